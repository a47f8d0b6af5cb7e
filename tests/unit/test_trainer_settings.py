"""Trainer settings: a flag beats the environment, which beats autoresearch.toml, which beats the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.trainer.config import DEFAULT_TRAIN_COMMAND, TrainerSettings
from services.trainer.workspace_config import (
    CONFIG_FILE, WorkspaceConfig, load_workspace_config, render_workspace_config,
)
from shared.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WORKSPACE", "TAG", "TRAIN_COMMAND", "RUN_TIMEOUT"):
        monkeypatch.delenv(f"AUTORESEARCH_{name}", raising=False)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace whose autoresearch.toml sets both settings."""
    (tmp_path / CONFIG_FILE).write_text('[workspace]\ntrain_command = "python train.py --toml"\nrun_timeout = 90\n')
    return tmp_path


def trainer(**flags: object) -> TrainerSettings:
    return load_settings(TrainerSettings, tag="nov27", **flags)


def test_defaults_apply_without_autoresearch_toml(tmp_path: Path) -> None:
    settings = trainer(workspace=tmp_path)

    assert (settings.train_command, settings.run_timeout) == (DEFAULT_TRAIN_COMMAND, 600.0)


def test_autoresearch_toml_beats_the_defaults(workspace: Path) -> None:
    settings = trainer(workspace=workspace)

    assert (settings.train_command, settings.run_timeout) == ("python train.py --toml", 90.0)


def test_a_setting_the_file_leaves_out_keeps_its_default(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text("[workspace]\nrun_timeout = 45\n")

    settings = trainer(workspace=tmp_path)

    assert (settings.train_command, settings.run_timeout) == (DEFAULT_TRAIN_COMMAND, 45.0)


def test_the_environment_beats_autoresearch_toml(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTORESEARCH_TRAIN_COMMAND", "python train.py --env")
    monkeypatch.setenv("AUTORESEARCH_RUN_TIMEOUT", "30")

    settings = trainer(workspace=workspace)

    assert (settings.train_command, settings.run_timeout) == ("python train.py --env", 30.0)


def test_an_empty_environment_variable_leaves_autoresearch_toml_in_charge(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTORESEARCH_TRAIN_COMMAND", "")
    monkeypatch.setenv("AUTORESEARCH_RUN_TIMEOUT", "")

    settings = trainer(workspace=workspace)

    assert (settings.train_command, settings.run_timeout) == ("python train.py --toml", 90.0)


def test_a_flag_beats_the_environment(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTORESEARCH_TRAIN_COMMAND", "python train.py --env")
    monkeypatch.setenv("AUTORESEARCH_RUN_TIMEOUT", "30")

    settings = trainer(workspace=workspace, train_command="python train.py --flag", run_timeout=5.0)

    assert (settings.train_command, settings.run_timeout) == ("python train.py --flag", 5.0)


def test_the_workspace_named_in_the_environment_is_the_one_read(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTORESEARCH_WORKSPACE", str(workspace))

    settings = trainer()

    assert settings.workspace == workspace
    assert settings.train_command == "python train.py --toml"


@pytest.mark.parametrize(
    "text",
    [
        "[workspace\ntrain_command = 1",
        "[workspace]\nrun_timeout = 'soon'\n",
        "[workspace]\nrun_timeout = 0\n",
        "[workspace]\ntrain_comand = 'python train.py'\n",
        "workspace = 3\n",
    ],
)
def test_a_malformed_autoresearch_toml_is_a_settings_error_naming_the_file(tmp_path: Path, text: str) -> None:
    (tmp_path / CONFIG_FILE).write_text(text)

    with pytest.raises(SettingsError, match=str(tmp_path / CONFIG_FILE)):
        trainer(workspace=tmp_path)


def test_a_malformed_autoresearch_toml_fails_even_when_flags_set_its_values(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text("[workspace]\nrun_timeout = 'soon'\n")

    with pytest.raises(SettingsError, match="run_timeout"):
        trainer(workspace=tmp_path, train_command="python train.py", run_timeout=5.0)


def test_config_round_trips_and_a_missing_file_sets_nothing(tmp_path: Path) -> None:
    assert load_workspace_config(tmp_path) == WorkspaceConfig()
    (tmp_path / CONFIG_FILE).write_text('[workspace]\ntrain_command = "uv run train.py"\nrun_timeout = 300\n')

    assert load_workspace_config(tmp_path) == WorkspaceConfig(train_command="uv run train.py", run_timeout=300)


def test_config_text_round_trips_quotes_and_backslashes(tmp_path: Path) -> None:
    config = WorkspaceConfig(train_command='"/opt/my python/bin/python" C:\\x train.py', run_timeout=90)
    (tmp_path / CONFIG_FILE).write_text(render_workspace_config(config))

    assert load_workspace_config(tmp_path) == config


def test_every_workspace_setting_is_a_trainer_setting() -> None:
    assert set(WorkspaceConfig.model_fields) <= set(TrainerSettings.model_fields)


def test_each_up_gives_its_trainer_a_session_that_reaches_the_trainer(tmp_path: Path) -> None:
    from autoresearch.up import UpOptions, service_args

    options = UpOptions(workspace=tmp_path, tag="nov27", max_experiments=3)
    first, second = (service_args("trainer", options, tmp_path / "state") for _ in range(2))
    session = first[first.index("--session") + 1]

    assert session and session != second[second.index("--session") + 1]
    assert trainer(workspace=tmp_path, session=session).session == session
