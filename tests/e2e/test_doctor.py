"""`autoresearch doctor`, `init --from` and `up` check a Karpathy-style repository before its first run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git
from tests.fixtures.karpathy_like import make_karpathy_like, prepare_data

ROOT = Path(__file__).resolve().parents[2]
PYTHON_COMMAND = f"{sys.executable} train.py"


def cli(*args: str, env: dict[str, str], python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    """The command line, as a user runs it."""
    return subprocess.run([python, "-m", "autoresearch", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def environment(home: Path, **extra: str) -> dict[str, str]:
    """This environment without the project's own settings, with HOME (where prepare.py's data goes) set."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AUTORESEARCH_", "NATS_"))}
    return {**base, "HOME": str(home), "UV_CACHE_DIR": str(home / "uv-cache"), **extra}


def lines(done: subprocess.CompletedProcess[str], status: str) -> dict[str, str]:
    """check name -> its line, for the lines of one status (ok or FAIL)."""
    found = {}
    for line in (done.stdout + done.stderr).splitlines():
        if line.strip().startswith(status):
            found[line.strip()[len(status):].strip().split(":")[0]] = line
    return found


def bare_path(tmp_path: Path) -> str:
    """A PATH holding git and a plain python3, nothing else: no uv, no nvidia-smi."""
    folder = tmp_path / "bare-path"
    folder.mkdir()
    (folder / "git").symlink_to(shutil.which("git"))
    (folder / "python3").symlink_to(Path(sys.executable).resolve())  # the interpreter itself, not the project's venv
    return str(folder)


def python_without_uv(tmp_path: Path) -> str:
    """An interpreter of this environment, in a folder without the uv that came with the project."""
    if not (Path(sys.prefix) / "pyvenv.cfg").exists():
        pytest.skip("needs the project's virtual environment")
    env = tmp_path / "env"
    (env / "bin").mkdir(parents=True)
    shutil.copy(Path(sys.prefix) / "pyvenv.cfg", env / "pyvenv.cfg")
    (env / "bin" / "python").symlink_to(sys.executable)
    (env / "lib").symlink_to(Path(sys.prefix) / "lib")
    return str(env / "bin" / "python")


def test_doctor_says_uv_is_missing_when_neither_path_nor_its_interpreter_has_it(tmp_path: Path) -> None:
    workspace = make_karpathy_like(tmp_path / "clone", cuda=False)
    python = python_without_uv(tmp_path)
    done = cli("doctor", "--workspace", str(workspace), python=python,
               env=environment(tmp_path / "home", PATH=bare_path(tmp_path)))
    assert done.returncode == 2, done.stdout + done.stderr
    failing = lines(done, "FAIL")
    assert "needs uv" in failing["train command"] and f"{python} -m pip install uv" in failing["train command"]


def test_doctor_finds_uv_beside_its_interpreter_and_checks_the_uv_environment(tmp_path: Path) -> None:
    home = tmp_path / "home"
    prepare_data(home)
    env = environment(home, PATH=bare_path(tmp_path))
    ready = cli("doctor", "--workspace", str(make_karpathy_like(tmp_path / "ready", cuda=False)), env=env)
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert "beside autoresearch's interpreter" in lines(ready, "ok")["train command"]
    envs = str(home / ".cache" / "autoresearch" / "envs")
    assert f"will be synced into {envs}" in lines(ready, "ok")["dependencies"]
    # not synced yet is no failure: the trainer syncs the runs' environment when the campaign starts
    unsynced = make_karpathy_like(tmp_path / "unsynced", cuda=False, dependencies=["a-package-in-no-cache"])
    done = cli("doctor", "--workspace", str(unsynced), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "will be synced" in lines(done, "ok")["dependencies"]


def test_doctor_names_the_module_train_py_imports_that_the_run_cannot(tmp_path: Path) -> None:
    home = tmp_path / "home"
    prepare_data(home)
    workspace = make_karpathy_like(tmp_path / "clone", cuda=False, imports=["json", "kernels_not_installed"],
                                   train_command=PYTHON_COMMAND)
    done = cli("doctor", "--workspace", str(workspace), env=environment(home))
    assert done.returncode == 2
    failing = lines(done, "FAIL")
    assert list(failing) == ["dependencies"]
    assert "kernels_not_installed (train.py)" in failing["dependencies"] and "json" not in failing["dependencies"]
    assert "-m pip install kernels_not_installed" in failing["dependencies"]


def test_doctor_says_the_data_is_missing_and_that_prepare_py_makes_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    workspace = make_karpathy_like(tmp_path / "clone", cuda=False, train_command=PYTHON_COMMAND)
    missing = cli("doctor", "--workspace", str(workspace), env=environment(home))
    assert missing.returncode == 2
    data = lines(missing, "FAIL")["data"]
    assert str(home / ".cache" / "autoresearch" / "data") in data and "shard_06542.parquet" in data
    assert f"&& {sys.executable} prepare.py" in data
    prepare_data(home)
    ready = cli("doctor", "--workspace", str(workspace), env=environment(home))
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert "shard_06542.parquet" in lines(ready, "ok")["data"]


def test_doctor_refuses_a_train_py_that_needs_cuda_where_no_gpu_is_visible(tmp_path: Path) -> None:
    home = tmp_path / "home"
    prepare_data(home)
    workspace = make_karpathy_like(tmp_path / "clone", cuda=True, train_command=PYTHON_COMMAND)
    done = cli("doctor", "--workspace", str(workspace), env=environment(home, PATH=bare_path(tmp_path)))
    assert done.returncode == 2
    assert list(lines(done, "FAIL")) == ["gpu"]
    assert "needs CUDA" in lines(done, "FAIL")["gpu"] and "nvidia-smi" in lines(done, "FAIL")["gpu"]


def test_the_bundled_workspace_passes_every_check(tmp_path: Path) -> None:
    env = environment(tmp_path / "home")
    created = cli("init", str(tmp_path / "workspace"), "--time-budget", "5", env=env)
    assert created.returncode == 0, created.stderr
    done = cli("doctor", "--workspace", str(tmp_path / "workspace"), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not lines(done, "FAIL")
    assert set(lines(done, "ok")) == {"workspace", "train command", "dependencies", "data", "gpu", "nats", "disk"}


def test_init_from_prints_the_findings_and_exits_2(tmp_path: Path) -> None:
    workspace = make_karpathy_like(tmp_path / "clone", cuda=True)
    done = cli("init", "--from", str(workspace), env=environment(tmp_path / "home", PATH=bare_path(tmp_path)))
    assert done.returncode == 2
    assert {"data", "gpu"} <= set(lines(done, "FAIL")) and "workspace" in lines(done, "ok")
    assert "is not ready as a workspace" in done.stderr


def test_up_refuses_before_starting_anything_and_skip_checks_goes_past(tmp_path: Path) -> None:
    workspace = make_karpathy_like(tmp_path / "clone", cuda=True, train_command=PYTHON_COMMAND)
    env = environment(tmp_path / "home", PATH=bare_path(tmp_path))
    refused = cli("up", "--workspace", str(workspace), "--max-experiments", "1", "--http-port", "0", env=env)
    assert refused.returncode == 2
    assert "--skip-checks" in refused.stderr and "FAIL  gpu" in refused.stderr and "FAIL  data" in refused.stderr
    assert not (workspace / ".autoresearch").exists() and "autoresearch/" not in git(workspace, "branch", "--list")
    # past the checks, the trainer's own pre-flight is what speaks (no campaign to resume), no finding
    skipped = cli("up", "--workspace", str(workspace), "--resume", "--tag", "none", "--skip-checks", env=env)
    assert skipped.returncode == 2 and "nothing to resume" in skipped.stderr and "FAIL" not in skipped.stderr
