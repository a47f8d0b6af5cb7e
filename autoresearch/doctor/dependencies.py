"""The workspace's own dependencies: uv's environment in sync with the project, or train.py's imports resolvable."""

from __future__ import annotations

import shlex
import subprocess

from autoresearch.doctor.findings import Finding, failed, noticed, passed
from autoresearch.doctor.setup import Setup
from autoresearch.doctor.sources import SourceError, parse_file, top_level_imports
from services.trainer.uv_project import uv_project

NAME = "dependencies"
SCRIPTS = ("train.py", "prepare.py")
TIMEOUT = 60.0
# Asked in the run's interpreter, from the workspace, so that its own modules (prepare) are found as in a run.
# find_spec of a top-level name imports nothing.
_FIND = "import importlib.util, sys\nprint('\\n'.join(n for n in sys.argv[1:] if importlib.util.find_spec(n) is None))"


def check_dependencies(setup: Setup) -> list[Finding]:
    """With uv: the runs' environment checked against the workspace's lock; else train.py's and prepare.py's imports."""
    if setup.command is None or setup.program is None:
        return [passed(NAME, "not checked: the train command cannot start (see above)")]
    if setup.command.uses_uv:
        return [_uv_sync(setup, setup.program, setup.command.text)]
    if setup.interpreter is None:
        return [passed(NAME, f"not checked: which Python `{setup.command.program}` runs cannot be told")]
    return [_imports(setup, setup.interpreter)]


def _uv_sync(setup: Setup, uv: str, command: str) -> Finding:
    project = uv_project(setup.workspace, command, setup.environ)
    if project is None:
        return passed(NAME, "no pyproject.toml: `uv run` adds no project dependencies")
    if problem := project.misplaced(setup.state_dir):
        return failed(NAME, problem, "unset UV_PROJECT_ENVIRONMENT")
    # The runs' environment, as the trainer syncs it (services/trainer/uv_project.py). --offline: a check never
    # waits on the network; whatever is not in uv's cache is missing anyway.
    args = project.sync_args(uv, "--check", "--offline")
    try:
        done = subprocess.run(args, cwd=setup.workspace, env=project.sync_environment(setup.run_env),
                              capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return failed(NAME, f"`uv sync --check` did not finish: {exc}", setup.in_workspace(f"{setup.shown(uv)} sync"))
    said = _last_error(done.stderr + done.stdout)
    if "unexpected argument '--check'" in said:
        return passed(NAME, f"not checked: {uv} predates `uv sync --check` (uv 0.6.10)")
    if project.locked and "--locked" in said:
        # a sync with --locked cannot succeed, online or not; without it uv would rewrite uv.lock
        return failed(NAME, "uv.lock does not match pyproject.toml",
                      setup.in_workspace(f"{setup.shown(uv)} lock && git commit -m 'update uv.lock' uv.lock"))
    source = "uv.lock" if project.locked else "pyproject.toml"
    if done.returncode == 0 and project.exists():
        return passed(NAME, f"the runs' uv environment {project.environment} matches {source}")
    now = "not made yet" if not project.exists() else f"not in sync: {said}"
    return noticed(NAME, f"the runs' uv environment will be synced into {project.environment} when the campaign "
                        f"starts ({now})")


def _imports(setup: Setup, python: str) -> Finding:
    wanted: dict[str, str] = {}  # module -> the script that imports it first
    for script in SCRIPTS:
        path = setup.workspace / script
        if not path.is_file():
            continue
        try:
            tree = parse_file(path)
        except SourceError as error:
            return failed(NAME, str(error), f"fix {script} and commit it")
        for module in top_level_imports(tree):
            wanted.setdefault(module, script)
    if not wanted:
        return passed(NAME, "train.py and prepare.py import nothing")
    try:
        done = subprocess.run([python, "-c", _FIND, *wanted], cwd=setup.workspace, env=dict(setup.run_env),
                              capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return failed(NAME, f"{python} did not answer: {exc}", "check that interpreter runs")
    if done.returncode != 0:
        return failed(NAME, f"{python} did not run ({_last_error(done.stderr)})", "check that interpreter runs")
    missing = [name for name in done.stdout.split() if name in wanted]
    if missing:
        named = ", ".join(f"{name} ({wanted[name]})" for name in missing)
        return failed(NAME, f"{python} cannot import {named}",
                      f"{setup.shown(python)} -m pip install {' '.join(shlex.quote(n) for n in missing)}"
                      " (the package may be named differently from the module)")
    return passed(NAME, f"{python} finds all {len(wanted)} modules train.py and prepare.py import")


def _last_error(text: str) -> str:
    """What went wrong, as the tool said it: its `error:` and `cause:` lines, else its last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    said = [line for line in lines if line.lower().startswith(("error", "cause"))]
    return ("; ".join(said) if said else lines[-1] if lines else "no output")[:300]
