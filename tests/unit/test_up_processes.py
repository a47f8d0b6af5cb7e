"""What `up` starts: each service's command line, the consumers it waits for, the trainer's checks before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoresearch.up import UpOptions, campaign_durables, check_trainer, service_args
from services.ledger import consumers as ledger_consumers
from services.trainer import consumers as trainer_consumers
from services.trainer.config import TrainerSettings
from services.trainer.workspace import WorkspaceError
from shared.settings import SettingsError, load_settings
from tests.conftest import git, make_workspace


def trainer_settings(args: list[str]) -> TrainerSettings:
    """The settings the trainer builds from the command line `up` gives it (flags as overrides, as `service` does)."""
    pairs = args[args.index("trainer") + 1:]
    given = {pairs[i][2:].replace("-", "_"): pairs[i + 1] for i in range(0, len(pairs), 2)}
    return load_settings(TrainerSettings, **given)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "workspace", "print('val_bpb: 1.0')\n")


def test_trainer_settings_come_from_the_environment_and_workspace_file_when_no_flag_is_given(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    (workspace / "autoresearch.toml").write_text('[workspace]\ntrain_command = "python train.py --fast"\nrun_timeout = 90\n')
    monkeypatch.setenv("AUTORESEARCH_RUN_TIMEOUT", "42")
    monkeypatch.delenv("AUTORESEARCH_TRAIN_COMMAND", raising=False)

    args = service_args("trainer", UpOptions(workspace=workspace, tag="nov27"), tmp_path / "state")

    assert "--run-timeout" not in args and "--train-command" not in args
    settings = trainer_settings(args)
    assert settings.run_timeout == 42.0  # the environment over autoresearch.toml
    assert settings.train_command == "python train.py --fast"  # autoresearch.toml over the default


def test_trainer_flags_given_to_up_reach_the_trainer(workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTORESEARCH_RUN_TIMEOUT", "42")
    options = UpOptions(workspace=workspace, tag="nov27", train_command="make train", run_timeout=30.0, gpu="1",
                        max_experiments=3, lookahead=0)

    settings = trainer_settings(service_args("trainer", options, tmp_path / "state"))

    assert (settings.train_command, settings.run_timeout, settings.gpu) == ("make train", 30.0, "1")
    assert (settings.max_experiments, settings.lookahead, settings.tag) == (3, 0, "nov27")


def test_other_services_get_only_their_own_flags(workspace: Path, tmp_path: Path) -> None:
    options = UpOptions(workspace=workspace, tag="nov27", http_port=0, proposer="llm")

    ledger = service_args("ledger", options, tmp_path)
    second_proposer = service_args("proposer", options, tmp_path, index=1)

    assert "--results" not in ledger and "--http-port" in ledger  # the workspace's results.tsv is the trainer's
    trainer = service_args("trainer", options, tmp_path)
    assert trainer[trainer.index("--results") + 1] == str(workspace / "results.tsv")
    assert second_proposer[-4:] == ["--instance", "proposer-2", "--proposer", "llm"]
    assert "--workspace" not in service_args("editor", options, tmp_path)


@pytest.mark.parametrize("name", ["ledger", "evaluator", "editor", "proposer", "trainer"])
def test_every_service_up_starts_serves_only_its_campaign(name: str, workspace: Path, tmp_path: Path) -> None:
    args = service_args(name, UpOptions(workspace=workspace, tag="nov27"), tmp_path)

    assert args[args.index("--tag") + 1] == "nov27"


def test_up_waits_for_the_consumers_each_service_names_for_the_campaign() -> None:
    durables = campaign_durables("nov27")

    assert trainer_consumers.durables("nov27") <= durables
    assert ledger_consumers.durables("nov27") <= durables
    assert not trainer_consumers.durables("other") & durables


def test_check_trainer_refuses_a_bad_workspace_file(workspace: Path) -> None:
    (workspace / "autoresearch.toml").write_text("[workspace]\nrun_timeout = -5\n")

    with pytest.raises(SettingsError, match="autoresearch.toml"):
        check_trainer(UpOptions(workspace=workspace, tag="nov27"))


def test_check_trainer_refuses_a_dirty_workspace_and_an_existing_branch(workspace: Path) -> None:
    check_trainer(UpOptions(workspace=workspace, tag="nov27"))  # clean, new tag: accepted

    git(workspace, "branch", "autoresearch/nov27")
    with pytest.raises(WorkspaceError, match="already exists.*--resume"):
        check_trainer(UpOptions(workspace=workspace, tag="nov27"))
    check_trainer(UpOptions(workspace=workspace, tag="nov27", resume=True))

    (workspace / "train.py").write_text("# edited\n")
    with pytest.raises(WorkspaceError, match="uncommitted changes"):
        check_trainer(UpOptions(workspace=workspace, tag="other"))


def test_check_trainer_refuses_a_bad_tag(workspace: Path) -> None:
    with pytest.raises(SettingsError, match="tag"):
        check_trainer(UpOptions(workspace=workspace, tag="bad tag!"))


def test_keep_rule_flags_given_to_up_reach_the_evaluator_and_it_accepts_them(workspace: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from autoresearch.cli import app
    from autoresearch.up import VerdictOptions
    from services.evaluator.main import EvaluatorSettings

    options = UpOptions(workspace=workspace, tag="nov27",
                        verdicts=VerdictOptions(keep_rule="greedy", baseline_runs=5, vram_budget_gb=23.0))
    args = service_args("evaluator", options, tmp_path)
    given = dict(zip(args[::1], args[1::1]))
    assert (given["--keep-rule"], given["--baseline-runs"], given["--vram-budget-gb"]) == ("greedy", "5", "23.0")
    assert "--max-runs" not in args and "--keep-rule" not in service_args("trainer", options, tmp_path)
    settings = load_settings(EvaluatorSettings, keep_rule="greedy", baseline_runs=5, vram_budget_gb=23.0)
    assert settings.rule().name == "greedy" and settings.rule().vram_budget_gb == 23.0
    refused = CliRunner().invoke(app, ["service", "trainer", "--keep-rule", "greedy", "--workspace", str(workspace)])
    assert refused.exit_code != 0 and "does not apply to the trainer" in refused.output
