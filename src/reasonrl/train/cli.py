"""`reasonrl train [CONFIG.yaml] [key.sub=value ...] [--resume RUN_DIR] [--model PATH]`

    reasonrl train                                   # the default job: R1-Zero on a laptop (config/default_job.yaml)
    reasonrl train configs/chain_sum_plain.yaml      # plain answers, no tags

    reasonrl train --launcher accelerate --num-processes 2 ...     # data-parallel, N processes (docs/scaling.md)
    reasonrl train --launcher accelerate --accelerate-config configs/accelerate/gpu_ddp_8.yaml ...
"""
from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

from reasonrl.cli import exit_code
from reasonrl.config import ConfigError, load_config

DEFAULT_JOB = Path(__file__).resolve().parent.parent / "config" / "default_job.yaml"


def accelerate_command(train_argv: list[str], num_processes: int | None, config_file: str | None) -> list[str]:
    """The `accelerate launch` command line that runs `reasonrl train <train_argv>` on N processes.

    Without a config file, accelerate's torchrun launcher ("--multi_gpu") starts the N processes on this
    machine; on a CPU the trainer then asks accelerate for gloo (distributed.init_dist), so the same command
    serves CPUs and GPUs.

    >>> accelerate_command(["x=1"], 2, None)[3:]
    ['launch', '--multi_gpu', '--num_machines', '1', '--mixed_precision', 'no', '--dynamo_backend', 'no', '--num_processes', '2', '-m', 'reasonrl', 'train', 'x=1']
    """
    cmd = [sys.executable, "-m", "accelerate.commands.accelerate_cli", "launch"]
    if config_file:
        cmd += ["--config_file", config_file]
    else:
        cmd += ["--multi_gpu", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    if num_processes:
        cmd += ["--num_processes", str(num_processes)]
    return cmd + ["-m", "reasonrl", "train", *train_argv]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="reasonrl train", description=__doc__)
    ap.add_argument("args", nargs="*", help="an optional CONFIG.yaml first, then key.sub=value overrides")
    ap.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its latest checkpoint")
    ap.add_argument("--model", metavar="PATH", help="local HF model folder or run dir (= model.path=PATH)")
    ap.add_argument("--launcher", choices=["none", "accelerate"], default="none",
                    help="accelerate: re-run this command under `accelerate launch` (data-parallel processes)")
    ap.add_argument("--num-processes", type=int, metavar="N", help="processes for --launcher accelerate")
    ap.add_argument("--accelerate-config", metavar="YAML", help="an accelerate config file (configs/accelerate/)")
    ap.add_argument("--ray-address", metavar="ADDR", help="score rewards on Ray workers (= ray.address=ADDR; 'local' starts one)")
    a = ap.parse_args(argv)
    return exit_code("reasonrl train", lambda: _run(a))


def _run(a: argparse.Namespace) -> int:
    """Load and check the config (one-line ConfigError), re-run under the launcher if asked, then train."""
    path, overrides = None, list(a.args)
    if overrides and "=" not in overrides[0]:
        path = overrides.pop(0)
    if a.resume and path is None:
        saved = Path(a.resume) / "config.yaml"
        path = saved if saved.is_file() else None  # the run's own resolved config, unless one is given
    elif path is None:
        path = DEFAULT_JOB  # the R1-Zero laptop job (configs/default.yaml links to it)
    if a.model:
        overrides.append(f"model.path={a.model}")
    if a.ray_address:
        overrides.append(f"ray.address={a.ray_address}")
    cfg = load_config(path, overrides)
    if a.launcher == "none" and (a.num_processes or a.accelerate_config):
        raise ConfigError("--num-processes / --accelerate-config need --launcher accelerate")
    if a.num_processes is not None and a.num_processes < 1:
        raise ConfigError(f"--num-processes {a.num_processes}; must be >= 1")
    if a.launcher == "accelerate" and "WORLD_SIZE" not in os.environ:  # not yet under the launcher: become it
        rest = [*a.args] + (["--resume", a.resume] if a.resume else []) + (["--model", a.model] if a.model else [])
        rest += ["--ray-address", a.ray_address] if a.ray_address else []
        cmd = accelerate_command(rest, a.num_processes, a.accelerate_config)
        os.execv(cmd[0], cmd)
    from reasonrl.train.checkpoint import CheckpointError
    from reasonrl.train.loop import main as train_main  # heavy imports only once the config is valid

    try:
        train_main(cfg, resume=a.resume)
    except CheckpointError as e:  # disk full while saving, or an unsafe trainer_state.pt: one line, no traceback
        print(f"reasonrl train: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        # a run log or the report hit the full disk: every checkpoint already committed is whole
        print(f"reasonrl train: {e.strerror} writing {e.filename or 'the run logs'}; the checkpoints already "
              f"saved are intact: free some space, then `reasonrl train --resume RUN_DIR`", file=sys.stderr)
        return 1
    return 0
