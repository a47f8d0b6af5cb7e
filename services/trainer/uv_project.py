"""A uv workspace's runs share one synced environment outside their rooms: where it is, its sync, what runs are told.

A workspace with pyproject.toml whose train command runs through uv (`uv run train.py`) would otherwise have uv
make a fresh .venv in every run's clean room: a copy of every dependency, torch included, inside the run's time
budget. Instead the trainer syncs one environment per workspace when a campaign starts, and each run uses it as
it is (UV_PROJECT_ENVIRONMENT, UV_NO_SYNC): a run never resolves, downloads or writes a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import structlog

from services.trainer.runner import run_path
from services.trainer.shell import first_command
from shared.settings import SettingsError

log = structlog.get_logger("trainer")

ENVIRONMENTS = Path("autoresearch", "envs")  # under the user's cache folder
SYNC_TIMEOUT = 3600.0  # a first sync downloads torch; a sync that hangs longer is a setup error, not a wait forever
PROBE_TIMEOUT = 30.0
SAID_LINES = 8


class UvSyncError(SettingsError):
    """The runs' environment cannot be made or used; the message says why and what to do."""


@dataclass(frozen=True)
class UvProject:
    """A workspace whose runs go through uv: the uv its train command names, and the environment its runs use."""

    workspace: Path
    uv: str  # the program as the train command writes it
    environment: Path  # absolute
    named: bool  # True when UV_PROJECT_ENVIRONMENT chose it (the Docker image sets it)

    @property
    def locked(self) -> bool:
        """True when the workspace has uv.lock: the environment is then exactly the lock's."""
        return (self.workspace / "uv.lock").is_file()

    def exists(self) -> bool:
        """True when the environment has been made (a sync may still be due)."""
        return (self.environment / "pyvenv.cfg").is_file()

    def run_variables(self) -> dict[str, str]:
        """What each run is given: the environment, used as it is."""
        return {"UV_PROJECT_ENVIRONMENT": str(self.environment), "UV_NO_SYNC": "1"}

    def sync_environment(self, env: Mapping[str, str]) -> dict[str, str]:
        """env (what runs get) for uv's own sync or check of the environment."""
        given = {key: value for key, value in env.items() if key != "UV_NO_SYNC"}
        return {**given, "UV_PROJECT_ENVIRONMENT": str(self.environment)}

    def sync_args(self, uv: str, *check: str) -> list[str]:
        """uv's sync of the environment; its check with check = ("--check", "--offline")."""
        # the workspace's own code runs from each run's clean room: it is never installed
        return [uv, "sync", *check, "--no-install-project", *(["--locked"] if self.locked else [])]

    def misplaced(self, state_dir: Path) -> str | None:
        """Why runs could not use the environment where it is (in the workspace or state folder, hidden from runs)."""
        for what, folder in (("workspace", self.workspace), ("state folder", state_dir)):
            if self.environment.resolve().is_relative_to(folder.resolve()):
                return (f"the runs' uv environment {self.environment} is inside the {what} {folder}, which runs "
                        "cannot see; unset UV_PROJECT_ENVIRONMENT, or set it to an absolute folder outside both")
        return None


def uv_word(command: str) -> str | None:
    """The train command's program when it is uv (`uv run train.py`, `/opt/bin/uv run ...`), else None."""
    try:
        words = first_command(command)
    except ValueError:
        return None
    return words[0] if words and Path(words[0]).name == "uv" else None


def uv_project(workspace: Path, train_command: str, environ: Mapping[str, str]) -> UvProject | None:
    """The workspace as a uv project for runs (pyproject.toml, a train command through uv), else None.

    environ is the trainer's own: UV_PROJECT_ENVIRONMENT there names the environment, as uv reads it from
    the workspace; else it is a folder of the user's cache named after the workspace.
    """
    workspace = workspace.resolve()
    uv = uv_word(train_command)
    if uv is None or not (workspace / "pyproject.toml").is_file():
        return None
    named = environ.get("UV_PROJECT_ENVIRONMENT", "")
    if named:
        return UvProject(workspace, uv, Path(os.path.abspath(workspace / Path(named).expanduser())), True)
    return UvProject(workspace, uv, default_environment(workspace, environ), False)


def default_environment(workspace: Path, environ: Mapping[str, str]) -> Path:
    """${XDG_CACHE_HOME:-~/.cache}/autoresearch/envs/<workspace's name>-<hash of its path>: one per workspace."""
    cache = environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(cache):  # a relative XDG_CACHE_HOME is to be ignored (XDG base directory spec)
        home = environ.get("HOME") or str(Path.home())
        cache = os.path.join(home, ".cache")
    digest = hashlib.sha256(os.fsencode(workspace.resolve())).hexdigest()[:12]
    return Path(cache).resolve() / ENVIRONMENTS / f"{workspace.resolve().name}-{digest}"


def find_uv(project: UvProject, path: str) -> str | None:
    """Where the run's PATH finds the train command's uv."""
    if "/" in project.uv:
        found = project.workspace / project.uv  # an absolute name stays itself
        return str(found) if os.access(found, os.X_OK) else None
    return shutil.which(project.uv, path=path)


async def sync_for_runs(project: UvProject, env: Mapping[str, str], state_dir: Path, stop: asyncio.Event,
                        run_as: list[str] | None = None) -> bool:
    """Sync the runs' environment before the campaign's first run; False when stop came first. Raises UvSyncError.

    env is what runs get (no secrets: the sync may build a dependency from source). run_as is the command line
    prefix that starts a process as the run user; that user must be able to start the environment's Python.
    """
    if problem := project.misplaced(state_dir):
        raise UvSyncError(problem)
    env = {**env, "PATH": run_path(env.get("PATH"))}  # as a run's: uv may be the one beside the trainer's Python
    uv = find_uv(project, env["PATH"])
    if uv is None:
        raise UvSyncError(f"the train command runs through {project.uv}, which is not on the PATH runs get; install uv")
    args = project.sync_args(uv)
    log.info("uv environment syncing", environment=str(project.environment), command=shlex.join(args[1:]))
    started = time.monotonic()
    syncing = asyncio.create_task(_run(args, project.workspace, project.sync_environment(env)))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({syncing, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not syncing.done():
        syncing.cancel()
        await asyncio.gather(syncing, return_exceptions=True)
        return False
    code, said = syncing.result()
    if code != 0:
        fix = "run `uv lock` in the workspace and commit uv.lock" if project.locked and "--locked" in said else (
            "check the network and the dependencies in pyproject.toml")
        raise UvSyncError(f"`uv {shlex.join(args[1:])}` into {project.environment} failed ({said}); {fix}")
    log.info("uv environment synced", environment=str(project.environment),
             seconds=round(time.monotonic() - started, 2))
    if run_as:
        await asyncio.to_thread(check_run_user, project, run_as, project.sync_environment(env))
    return True


async def _run(args: list[str], cwd: Path, env: Mapping[str, str]) -> tuple[int | None, str]:
    """Run args to the end (killing it, and what it started, if cancelled): its exit code and its last lines."""
    try:
        process = await asyncio.create_subprocess_exec(
            *args, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as exc:
        return None, f"it did not start: {exc}"
    try:
        output, _ = await asyncio.wait_for(process.communicate(), SYNC_TIMEOUT)
    except BaseException as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        if isinstance(exc, TimeoutError):
            return None, f"still running after {SYNC_TIMEOUT:g} s"
        raise
    lines = [line.strip() for line in output.decode(errors="replace").splitlines() if line.strip()]
    return process.returncode, "; ".join(lines[-SAID_LINES:])[:1000] or "no output"


def check_run_user(project: UvProject, run_as: list[str], env: Mapping[str, str]) -> None:
    """Refuse an environment the run user cannot use (below a folder only the trainer's user may enter, say)."""
    python = project.environment / "bin" / "python"
    # A Python that cannot read the environment's pyvenv.cfg starts as its base interpreter, without the dependencies.
    try:
        done = subprocess.run([*run_as, str(python), "-c", "import sys; print(sys.prefix)"], env=dict(env), cwd="/",
                              capture_output=True, text=True, timeout=PROBE_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        said: str | None = str(exc)
    else:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
        prefix = done.stdout.strip()
        said = lines[-1] if done.returncode else None if _same(prefix, project.environment) else (
            f"it starts as {prefix}, without the environment")
    if said is not None:
        raise UvSyncError(
            f"the run user cannot use {project.environment} ({said}): set UV_PROJECT_ENVIRONMENT (and "
            "UV_PYTHON_INSTALL_DIR, for a Python that uv installs) to folders that user can read")


def _same(path: str, folder: Path) -> bool:
    return bool(path) and os.path.realpath(path) == os.path.realpath(folder)
