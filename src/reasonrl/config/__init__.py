"""Typed configuration: `schema` defines it, `load` reads YAML + dotted overrides."""
from reasonrl.config.load import ConfigError, dump_config, load_config
from reasonrl.config.schema import Config

__all__ = ["Config", "ConfigError", "dump_config", "load_config"]
