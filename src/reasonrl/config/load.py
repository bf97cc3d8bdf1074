"""YAML + dotted CLI overrides -> a validated `Config`, or one line saying what is wrong.

>>> cfg = load_config(None, ["rollout.num_generations=4", "algo.beta=0.04"])
>>> cfg.rollout.num_generations, cfg.algo.beta
(4, 0.04)
>>> load_config(None, ["rollout.num_generation=4"])
Traceback (most recent call last):
...
reasonrl.config.load.ConfigError: unknown key 'rollout.num_generation' (value 4); did you mean 'rollout.num_generations'?
>>> load_config(None, ["algo.advantage=grpoo"])
Traceback (most recent call last):
...
reasonrl.config.load.ConfigError: unknown algo.advantage 'grpoo'; valid: grpo, drgrpo, rloo (did you mean 'grpo'?)

Names chosen from a registry (advantage, loss aggregation, rollout engine, rewards) are checked here, so a
typo fails before any model is loaded or any eval runs.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from reasonrl.config.schema import Config


class ConfigError(ValueError):
    """A config problem, stated in one line."""


def _all_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys += _all_keys(ann, f"{prefix}{name}.")
            continue
        keys.append(prefix + name)
        # an optional section (`task.curriculum: null` or its fields): both the name and its keys are valid
        for arg in get_args(ann):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                keys += _all_keys(arg, f"{prefix}{name}.")
    return keys


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and f"{prefix}{k}" not in _DICT_FIELDS:
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


_DICT_FIELDS = {"task.kwargs"}  # fields whose value is itself a free-form dict


def _set(tree: dict, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for p in parents:
        tree = tree.setdefault(p, {})
        if not isinstance(tree, dict):
            raise ConfigError(f"cannot set '{dotted}': '{p}' is not a section")
    tree[leaf] = value


def _check_keys(flat: dict[str, Any]) -> None:
    valid = _all_keys(Config)
    for key, value in flat.items():
        if key in valid or any(key.startswith(d + ".") for d in _DICT_FIELDS):
            continue
        close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else f"; valid sections: {sorted({k.split('.')[0] for k in valid})}"
        raise ConfigError(f"unknown key '{key}' (value {value!r}){hint}")


def _one_line(err: ValidationError, flat: dict[str, Any]) -> str:
    e = err.errors()[0]
    key = ".".join(str(p) for p in e["loc"])
    if not key:  # a check across sections (Config's model validator): its message names the keys itself
        return str(e["msg"]).removeprefix("Value error, ")
    value = flat.get(key, e.get("input"))
    return f"bad value for '{key}': {value!r} ({e['msg']})"


def _check_names(cfg: Config) -> None:
    """Every registry name in `cfg` exists; one line naming the key, the value and the valid names otherwise."""
    from reasonrl.algos import ADVANTAGES, LOSS_AGG   # the registries themselves, not a copy of their names
    from reasonrl.rewards.registry import REWARDS

    checks = [("algo.advantage", cfg.algo.advantage, list(ADVANTAGES)), ("algo.loss_agg", cfg.algo.loss_agg, list(LOSS_AGG))]
    # module:function is the user's own; `name@arg` passes an argument to a registry name (rewards.registry)
    checks += [("reward.funcs", name.split("@")[0], list(REWARDS)) for name in cfg.reward.funcs if ":" not in name]
    for key, value, valid in checks:
        if value not in valid:
            # a name the value starts (a truncated name) beats the closest spelling
            close = [v for v in valid if v.startswith(value)] or difflib.get_close_matches(value, valid, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            extra = ", or module:function" if key == "reward.funcs" else ""
            raise ConfigError(f"unknown {key} {value!r}; valid: {', '.join(valid)}{extra}{hint}")


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read `path` (YAML, optional), apply `key.sub=value` overrides, validate. Raises ConfigError."""
    tree: dict = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        try:
            tree = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{p}: not valid YAML: {str(e).splitlines()[0]}") from None
        if not isinstance(tree, dict):
            raise ConfigError(f"{p}: top level must be a mapping of sections, got {type(tree).__name__}")
    for ov in overrides or []:
        if "=" not in ov:
            raise ConfigError(f"override '{ov}' must look like key.sub=value")
        key, raw = ov.split("=", 1)
        # YAML parsing gives numbers, bools, lists and null their natural types.
        _set(tree, key.strip(), yaml.safe_load(raw) if raw.strip() else "")
    keys = {ov.split("=", 1)[0].strip() for ov in overrides or []}
    rw = tree.get("reward") if isinstance(tree.get("reward"), dict) else {}
    if "reward.funcs" in keys and "reward.weights" not in keys:
        rw.pop("weights", None)  # the file's weights were for the file's functions: new functions, equal weights
    if "reward.funcs" in keys and "reward.level_weights" not in keys:
        rw.pop("level_weights", None)  # likewise per level: a control's funcs keep one weights list all run
    flat = _flatten(tree)
    _check_keys(flat)
    try:
        cfg = Config.model_validate(tree)
    except ValidationError as e:
        raise ConfigError(_one_line(e, flat)) from None
    _check_names(cfg)
    return cfg


def dump_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as YAML (every field, defaults included)."""
    Path(path).write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True))
