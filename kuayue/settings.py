"""Settings read from the environment: Kuayue's own `KUAYUE_*` variables and Temporal's environment configuration.

Temporal's connection (address, namespace, API key, TLS, gRPC metadata) is not duplicated here: it comes from
`temporalio.envconfig`, so a TOML profile (`TEMPORAL_CONFIG_FILE`, `TEMPORAL_PROFILE`) and the `TEMPORAL_ADDRESS`,
`TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS_*` variables work exactly as they do for the `temporal` CLI.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias, get_args

from temporalio.envconfig import ClientConfigProfile

LogFormat: TypeAlias = Literal["json", "console"]
LOG_FORMATS: tuple[LogFormat, ...] = get_args(LogFormat)

# The repository root when installed editable (`pip install -e .`), which is how scripts/setup installs it.
# No resolve(): this runs at import time, also inside Temporal's workflow sandbox, which forbids it.
REPO_ROOT = Path(__file__).parent.parent
DEFAULT_TASK_QUEUE = "kuayue-deals"
DEFAULT_TEMPORAL_ADDRESS = "localhost:7233"
DEFAULT_NAMESPACE = "default"


class ConfigurationError(ValueError):
    """A setting has a value Kuayue cannot use; the message names the variable, the value and what is allowed."""


@dataclass(frozen=True)
class Settings:
    """Everything Kuayue's processes read from the environment, resolved once at start-up."""

    database_url: str
    task_queue: str
    data_dir: Path
    log_format: LogFormat
    temporal: ClientConfigProfile

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from `environ` (default: this process's environment)."""
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("KUAYUE_DATA_DIR") or REPO_ROOT / "data").expanduser().resolve()
        return cls(
            # The default read-model file lives in the data directory, so moving KUAYUE_DATA_DIR moves it too.
            database_url=env.get("KUAYUE_DATABASE_URL") or f"sqlite:///{data_dir / 'kuayue.db'}",
            task_queue=env.get("KUAYUE_TASK_QUEUE") or DEFAULT_TASK_QUEUE,
            data_dir=data_dir,
            log_format=_log_format(env.get("KUAYUE_LOG_FORMAT")),
            temporal=load_temporal_profile(env),
        )

    @property
    def temporal_address(self) -> str:
        return self.temporal.address or DEFAULT_TEMPORAL_ADDRESS

    @property
    def temporal_namespace(self) -> str:
        return self.temporal.namespace or DEFAULT_NAMESPACE


def load_temporal_profile(environ: Mapping[str, str] | None = None) -> ClientConfigProfile:
    """Load the Temporal client profile named by `TEMPORAL_PROFILE` (or "default"), with `TEMPORAL_*` overrides."""
    env = dict(os.environ if environ is None else environ)
    config_file = env.get("TEMPORAL_CONFIG_FILE")
    if config_file and not Path(config_file).is_file():
        # The SDK silently ignores a missing file, which would connect to the wrong cluster without a word.
        raise ConfigurationError(f"TEMPORAL_CONFIG_FILE={config_file!r} does not exist; point it at a TOML profile file")
    try:
        return ClientConfigProfile.load(override_env_vars=env)
    except Exception as err:  # the bridge raises its own ConfigError type, which is not importable by a stable name
        source = config_file or "the default Temporal config file"
        profile = env.get("TEMPORAL_PROFILE") or "default"
        raise ConfigurationError(
            f"cannot load Temporal client profile {profile!r} from {source}: {err}. "
            "Fix the TOML file, or unset TEMPORAL_PROFILE / TEMPORAL_CONFIG_FILE and use TEMPORAL_ADDRESS etc."
        ) from err


def _log_format(value: str | None) -> LogFormat:
    if not value:
        # A person at a terminal reads lines; a supervisor or CI collects JSON.
        return "console" if sys.stderr.isatty() else "json"
    if value not in LOG_FORMATS:
        raise ConfigurationError(f"KUAYUE_LOG_FORMAT={value!r} is not allowed; use one of: {', '.join(LOG_FORMATS)}")
    return value
