"""`reasonrl report RUN_DIR [RUN_DIR_B] [--out PATH]`

    reasonrl report runs/grpo                  # -> runs/grpo/report.html (+ runs/grpo/report/*.png)
    reasonrl report runs/grpo runs/drgrpo      # -> runs/grpo/report_vs_drgrpo.html, both runs overlaid
    reasonrl report runs/grpo --out /tmp/r.html

Safe to run while training is still going: it reads what is on disk.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reasonrl.report.build import write_report


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="reasonrl report", description="HTML report of one run or two runs overlaid")
    parser.add_argument("run_dir", type=Path, help="the run directory to report on")
    parser.add_argument("run_dir_b", type=Path, nargs="?", default=None,
                        help="a second run to overlay (e.g. Dr. GRPO vs GRPO)")
    parser.add_argument("--out", type=Path, default=None,
                        help="HTML path (default RUN_DIR/report.html or RUN_DIR/report_vs_<B>.html)")
    args = parser.parse_args(argv)
    try:
        path = write_report(args.run_dir, args.run_dir_b, out=args.out)
    except FileNotFoundError as e:
        print(f"reasonrl report: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
