"""Settings come from KUAYUE_* variables and from Temporal's own environment configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from kuayue.devserver import DevServerOptions
from kuayue.settings import REPO_ROOT, ConfigurationError, Settings

PROFILES = """
[profile.default]
address = "file-default.example:7233"
namespace = "from-file"

[profile.cloud]
address = "cloud.example:7233"
namespace = "deals.acct"
api_key = "secret"
"""


def test_defaults_put_everything_in_the_repository_data_directory() -> None:
    settings = Settings.from_env({"KUAYUE_LOG_FORMAT": "json"})
    assert settings.data_dir == REPO_ROOT / "data"
    assert settings.database_url == f"sqlite:///{REPO_ROOT / 'data' / 'kuayue.db'}"
    assert settings.task_queue == "kuayue-deals"
    assert settings.temporal_address == "localhost:7233"
    assert settings.temporal_namespace == "default"


def test_kuayue_variables_are_honoured(tmp_path: Path) -> None:
    settings = Settings.from_env({"KUAYUE_DATA_DIR": str(tmp_path), "KUAYUE_TASK_QUEUE": "q", "KUAYUE_LOG_FORMAT": "console"})
    assert (settings.data_dir, settings.task_queue, settings.log_format) == (tmp_path, "q", "console")
    assert settings.database_url == f"sqlite:///{tmp_path / 'kuayue.db'}"  # follows the data directory
    explicit = Settings.from_env({"KUAYUE_DATABASE_URL": "postgresql+psycopg2://u@h/db"})
    assert explicit.database_url == "postgresql+psycopg2://u@h/db"


def test_log_format_defaults_to_json_without_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert Settings.from_env({}).log_format == "json"
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert Settings.from_env({}).log_format == "console"


def test_an_unknown_log_format_names_the_value_and_the_choices() -> None:
    with pytest.raises(ConfigurationError, match=r"KUAYUE_LOG_FORMAT='xml'.*json, console"):
        Settings.from_env({"KUAYUE_LOG_FORMAT": "xml"})


def test_temporal_address_and_namespace_variables_are_honoured() -> None:
    settings = Settings.from_env({"TEMPORAL_ADDRESS": "temporal.internal:7233", "TEMPORAL_NAMESPACE": "deals"})
    assert settings.temporal_address == "temporal.internal:7233"
    assert settings.temporal_namespace == "deals"


def test_a_profile_file_is_read_and_variables_override_it(tmp_path: Path) -> None:
    config = tmp_path / "temporal.toml"
    config.write_text(PROFILES)
    default = Settings.from_env({"TEMPORAL_CONFIG_FILE": str(config)})
    assert (default.temporal_address, default.temporal_namespace) == ("file-default.example:7233", "from-file")

    cloud = Settings.from_env(
        {"TEMPORAL_CONFIG_FILE": str(config), "TEMPORAL_PROFILE": "cloud", "TEMPORAL_NAMESPACE": "override"}
    )
    assert cloud.temporal_address == "cloud.example:7233"
    assert cloud.temporal_namespace == "override"
    # An API key turns TLS on, as Temporal Cloud requires.
    assert cloud.temporal.to_client_connect_config()["tls"] is True


def test_a_missing_profile_or_file_is_an_error_not_a_silent_default(tmp_path: Path) -> None:
    config = tmp_path / "temporal.toml"
    config.write_text(PROFILES)
    with pytest.raises(ConfigurationError, match="'nope'"):
        Settings.from_env({"TEMPORAL_CONFIG_FILE": str(config), "TEMPORAL_PROFILE": "nope"})
    with pytest.raises(ConfigurationError, match="does not exist"):
        Settings.from_env({"TEMPORAL_CONFIG_FILE": str(tmp_path / "missing.toml")})


def test_the_embedded_server_follows_the_configured_port(tmp_path: Path) -> None:
    settings = Settings.from_env({"KUAYUE_DATA_DIR": str(tmp_path), "TEMPORAL_ADDRESS": "localhost:7300"})
    options = DevServerOptions.for_settings(settings)
    assert (options.port, options.ui_port, options.db_filename) == (7300, 8300, tmp_path / "temporal.db")
