"""The environment recorded with each run, and the environment each run is given."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoresearch.cli import app
from autoresearch.up import UpOptions, service_args, service_environment
from services.trainer import environment
from services.trainer.config import TrainerSettings
from services.trainer.environment import gpu_name, run_environment, workspace_seed
from services.trainer.runner import training_environment
from shared.settings import SettingsError, load_settings


def test_seed_is_read_from_train_py(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("DEPTH = 4\nSEED = 1337  # fixed\n")
    assert workspace_seed(tmp_path) == "1337"


def test_no_seed_when_train_py_sets_none_or_is_missing(tmp_path: Path) -> None:
    assert workspace_seed(tmp_path) is None
    (tmp_path / "train.py").write_text("seed = 3\nMY_SEED = 4\n")
    assert workspace_seed(tmp_path) is None


def test_environment_names_command_gpu_and_seed(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("SEED = 7\n")
    recorded = run_environment("python train.py", tmp_path, "1", "NVIDIA H100")
    assert recorded["command"] == "python train.py" and recorded["gpu"] == "NVIDIA H100"
    assert recorded["cuda_visible_devices"] == "1" and recorded["seed"] == "7"
    assert recorded["host"] and recorded["torch"]


def test_gpu_is_none_without_nvidia_smi(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(environment.shutil, "which", lambda name: None)
    assert gpu_name("0") == "none"


# The environment of a run: an allow-list, plus what pass_env names

TRAINER_ENVIRONMENT = {
    "PATH": "/usr/bin", "HOME": "/home/u", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC", "TMPDIR": "/tmp",
    "CUDA_HOME": "/usr/local/cuda", "NVIDIA_VISIBLE_DEVICES": "all", "OMP_NUM_THREADS": "4", "UV_CACHE_DIR": "/c/uv",
    "HF_HOME": "/c/hf", "PYTHONUNBUFFERED": "1", "VIRTUAL_ENV": "/venv",
    "OPENAI_API_KEY": "sk", "ANTHROPIC_API_KEY": "ak", "NATS_URL": "nats://bus", "NATS_CREDS": "/bus.creds",
    "AUTORESEARCH_LLM_MODEL": "m", "AUTORESEARCH_LLM_API_KEY": "llm", "AUTORESEARCH_STATE_DIR": "/state",
    "HF_TOKEN": "hf", "UV_INDEX_PASSWORD": "pw", "DATABASE_URL": "postgres://u:pw@db/x", "LD_PRELOAD": "/x.so",
    "SSH_AUTH_SOCK": "/agent", "PYTHONPATH": "/elsewhere", "PYTHONSTARTUP": "/s.py", "PYTHONPYCACHEPREFIX": "/pyc",
    "GIT_DIR": "/repo/.git", "WANDB_API_KEY": "wandb",
}
ALLOWED = {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "CUDA_HOME", "NVIDIA_VISIBLE_DEVICES", "OMP_NUM_THREADS",
           "UV_CACHE_DIR", "HF_HOME", "PYTHONUNBUFFERED", "VIRTUAL_ENV"}


def test_a_run_gets_only_the_allowed_basics_of_its_trainers_environment() -> None:
    env = training_environment(dict(TRAINER_ENVIRONMENT), None)
    assert set(env) == ALLOWED
    assert all(env[name] == TRAINER_ENVIRONMENT[name] for name in env)


def test_pass_env_gives_a_run_the_named_variables_secrets_included() -> None:
    env = training_environment(dict(TRAINER_ENVIRONMENT), "2", ["WANDB_API_KEY", "DATABASE_URL", "NOT_SET"])
    assert set(env) == ALLOWED | {"WANDB_API_KEY", "DATABASE_URL", "CUDA_VISIBLE_DEVICES"}
    assert env["WANDB_API_KEY"] == "wandb" and env["CUDA_VISIBLE_DEVICES"] == "2"


def test_pass_env_reads_names_from_flags_or_the_environment_and_refuses_the_services_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTORESEARCH_PASS_ENV", "WANDB_API_KEY, HF_TOKEN")
    assert load_settings(TrainerSettings, workspace=tmp_path, tag="t").pass_env == ["WANDB_API_KEY", "HF_TOKEN"]
    assert load_settings(TrainerSettings, workspace=tmp_path, tag="t", pass_env=["A", "B,C"]).pass_env == ["A", "B", "C"]
    for refused in ("NATS_CREDS", "AUTORESEARCH_LLM_API_KEY", "1X", "A-B"):
        with pytest.raises(SettingsError, match="pass_env"):
            load_settings(TrainerSettings, workspace=tmp_path, tag="t", pass_env=[refused])


def test_up_keeps_for_the_trainer_alone_what_its_runs_are_passed(tmp_path: Path) -> None:
    base = {"PATH": "/bin", "WANDB_API_KEY": "wandb", "OPENAI_API_KEY": "sk", "NATS_URL": "nats://x"}
    assert service_environment(base, "trainer", ["WANDB_API_KEY"]) == {"PATH": "/bin", "WANDB_API_KEY": "wandb",
                                                                         "NATS_URL": "nats://x"}
    assert "WANDB_API_KEY" not in service_environment(base, "editor", ["WANDB_API_KEY"])
    args = service_args("trainer", UpOptions(workspace=tmp_path, tag="t", pass_env=["WANDB_API_KEY", "A,B"]), tmp_path)
    assert [args[i + 1] for i, arg in enumerate(args) if arg == "--pass-env"] == ["WANDB_API_KEY", "A", "B"]


def test_pass_env_is_a_trainer_flag_only() -> None:
    refused = CliRunner().invoke(app, ["service", "editor", "--pass-env", "WANDB_API_KEY"])
    assert refused.exit_code != 0 and "--pass-env does not apply to the editor" in refused.output


def test_a_run_finds_the_driver_libraries_the_trainer_finds() -> None:
    """On hosts where torch finds the NVIDIA driver through LD_LIBRARY_PATH, a run without it trains on the CPU."""
    env = training_environment({"LD_LIBRARY_PATH": "/usr/local/nvidia/lib64", "PATH": "/usr/bin"}, gpu=None)
    assert env["LD_LIBRARY_PATH"] == "/usr/local/nvidia/lib64"
