"""`reasonrl train [CONFIG.yaml] [key.sub=value ...] [--resume RUN_DIR] [--model PATH]`"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reasonrl.config import ConfigError, load_config


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="reasonrl train", description=__doc__)
    ap.add_argument("args", nargs="*", help="an optional CONFIG.yaml first, then key.sub=value overrides")
    ap.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its latest checkpoint")
    ap.add_argument("--model", metavar="PATH", help="local HF model folder or run dir (= model.path=PATH)")
    a = ap.parse_args(argv)
    path, overrides = None, list(a.args)
    if overrides and "=" not in overrides[0]:
        path = overrides.pop(0)
    if a.resume and path is None:
        saved = Path(a.resume) / "config.yaml"
        path = saved if saved.is_file() else None  # the run's own resolved config, unless one is given
    if a.model:
        overrides.append(f"model.path={a.model}")
    try:
        cfg = load_config(path, overrides)
    except ConfigError as e:
        print(f"reasonrl train: {e}", file=sys.stderr)
        return 2
    from reasonrl.train.loop import main as train_main  # heavy imports only once the config is valid

    try:
        train_main(cfg, resume=a.resume)
    except (FileNotFoundError, ValueError) as e:
        print(f"reasonrl train: {e}", file=sys.stderr)
        return 2
    return 0
