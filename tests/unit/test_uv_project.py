"""One rule for a uv workspace's runs: which environment they use, what doctor says of it, when a sync is refused."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from autoresearch.doctor.dependencies import check_dependencies
from autoresearch.doctor.setup import setup_for
from services.trainer.containment import RunUser
from services.trainer.uv_project import UvSyncError, default_environment, sync_for_runs, uv_project, uv_word
from shared.settings import SettingsError
from tests.fixtures.uv_workspace import make_lock_stale, make_uv_workspace

COMMAND = "uv run train.py"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's cache folder, where the runs' environments go; UV_PROJECT_ENVIRONMENT unset."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.delenv("UV_PROJECT_ENVIRONMENT", raising=False)
    return tmp_path / "cache"


@pytest.mark.parametrize(("command", "word"), [
    ("uv run train.py", "uv"), ("/opt/uv/bin/uv run train.py", "/opt/uv/bin/uv"), ("FOO=1 env uv run x.py", "uv"),
    ("python train.py", None), ("uvicorn app", None), ("cd x && uv run train.py", None), ("uv run 'open", None),
])
def test_a_train_command_runs_through_uv_when_its_program_is_uv(command: str, word: str | None) -> None:
    assert uv_word(command) == word


def test_a_workspace_without_pyproject_or_without_uv_is_no_uv_project(tmp_path: Path) -> None:
    assert uv_project(tmp_path, COMMAND, {}) is None
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert uv_project(tmp_path, "python train.py", {}) is None
    assert uv_project(tmp_path, COMMAND, {"HOME": str(tmp_path)}) is not None


def test_each_workspace_has_its_own_stable_environment_in_the_users_cache(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "clone", tmp_path / "b" / "clone"
    environ = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path / "home")}
    folder = default_environment(first, environ)
    assert folder.parent == tmp_path / "cache" / "autoresearch" / "envs" and folder.name.startswith("clone-")
    assert default_environment(first, environ) == folder != default_environment(second, environ)
    assert default_environment(first, {"HOME": str(tmp_path / "home")}).is_relative_to(tmp_path / "home" / ".cache")


def test_runs_are_told_to_use_the_environment_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    named = uv_project(tmp_path, COMMAND, {"UV_PROJECT_ENVIRONMENT": "/opt/env"})
    assert named is not None and named.run_variables() == {"UV_PROJECT_ENVIRONMENT": "/opt/env", "UV_NO_SYNC": "1"}
    relative = uv_project(tmp_path, COMMAND, {"UV_PROJECT_ENVIRONMENT": ".venv"})
    assert relative is not None and relative.environment == tmp_path.resolve() / ".venv"  # as uv reads it
    assert "inside the workspace" in (relative.misplaced(tmp_path / "state") or "")
    assert named.misplaced(tmp_path / "state") is None


def test_doctor_says_an_unsynced_environment_will_be_synced_and_is_no_failure(tmp_path: Path, cache: Path) -> None:
    workspace = make_uv_workspace(tmp_path / "clone")
    [finding] = check_dependencies(setup_for(workspace, train_command=COMMAND))
    assert finding.ok, finding.line()
    assert f"will be synced into {cache / 'autoresearch' / 'envs'}" in finding.message


def test_doctor_says_a_synced_environment_matches_the_lock(tmp_path: Path, cache: Path) -> None:
    workspace = make_uv_workspace(tmp_path / "clone")
    project = uv_project(workspace, COMMAND, os.environ)
    assert project is not None
    env = dict(os.environ)
    assert asyncio.run(sync_for_runs(project, env, tmp_path / "state", asyncio.Event()))
    setup = setup_for(workspace, train_command=COMMAND)
    [finding] = check_dependencies(setup)
    assert finding.ok and f"{project.environment} matches uv.lock" in finding.message, finding.line()
    assert setup.interpreter == str(project.environment / "bin" / "python")  # what doctor's other checks ask


def test_doctor_fails_a_lock_that_does_not_match_pyproject(tmp_path: Path, cache: Path) -> None:
    workspace = make_uv_workspace(tmp_path / "clone")
    make_lock_stale(workspace)
    [finding] = check_dependencies(setup_for(workspace, train_command=COMMAND))
    assert not finding.ok and "uv.lock does not match pyproject.toml" in finding.message
    assert finding.fix is not None and "lock" in finding.fix


def test_a_stale_lock_refuses_the_setup_before_anything_runs(tmp_path: Path, cache: Path) -> None:
    workspace = make_uv_workspace(tmp_path / "clone")
    make_lock_stale(workspace)
    project = uv_project(workspace, COMMAND, os.environ)
    assert project is not None
    env = dict(os.environ)
    with pytest.raises(UvSyncError, match="uv lock") as refused:
        asyncio.run(sync_for_runs(project, env, tmp_path / "state", asyncio.Event()))
    assert isinstance(refused.value, SettingsError)  # the service exits with its setup code


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="changing user needs root and setpriv")
def test_an_environment_the_run_user_cannot_start_is_refused(tmp_path: Path, cache: Path) -> None:
    try:
        user = RunUser.named(pwd.getpwnam("nobody").pw_name)
    except KeyError:
        pytest.skip("no user nobody")
    tmp_path.chmod(0o700)  # the cache folder lies below a folder only root may enter, like root's home
    workspace = make_uv_workspace(tmp_path / "clone")
    project = uv_project(workspace, COMMAND, os.environ)
    assert project is not None
    env = dict(os.environ)
    with pytest.raises(UvSyncError, match="the run user cannot use"):
        asyncio.run(sync_for_runs(project, env, tmp_path / "state", asyncio.Event(), user.switch()))


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="changing user needs root and setpriv")
def test_an_environment_the_run_user_can_read_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        user = RunUser.named(pwd.getpwnam("nobody").pw_name)
    except KeyError:
        pytest.skip("no user nobody")
    shared = Path(tempfile.mkdtemp(prefix="autoresearch-test-env-"))  # below /tmp, which every user may enter
    try:
        shared.chmod(0o755)
        monkeypatch.setenv("UV_PROJECT_ENVIRONMENT", str(shared / "env"))
        workspace = make_uv_workspace(tmp_path / "clone")
        project = uv_project(workspace, COMMAND, os.environ)
        assert project is not None
        env = dict(os.environ)
        assert asyncio.run(sync_for_runs(project, env, tmp_path / "state", asyncio.Event(), user.switch()))
    finally:
        shutil.rmtree(shared)
