"""What the checks look at: the workspace, the train command as the trainer resolves it, and what a run gets."""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from autoresearch.doctor.command import SHELL_BUILTINS, TrainCommand, find_program, script_interpreter, uv_environment
from services.trainer.config import TrainerSettings
from services.trainer.runner import run_path, training_environment
from services.trainer.uv_project import uv_project
from shared.settings import load_settings

# The trainer's settings need a campaign; the checks do not depend on which.
ANY_TAG = "doctor"


@dataclass(frozen=True)
class Setup:
    """The workspace and state folder, the train command, this process's environment and a run's."""

    workspace: Path
    state_dir: Path
    command: TrainCommand | None  # None when the command is not valid shell: command_error says why
    command_error: str | None
    environ: Mapping[str, str]  # this process's own: NATS_URL and the bus's credentials
    run_env: Mapping[str, str]  # what a run gets from the trainer, PATH completed as the trainer completes it
    program: str | None  # the command's program, as the run's PATH finds it
    interpreter: str | None  # the Python that runs train.py, where that can be told

    def shown(self, path: str) -> str:
        """A program as the user should type it: its bare name when their own PATH finds that very file."""
        name = Path(path).name
        return name if shutil.which(name, path=self.environ.get("PATH", os.defpath)) == path else shlex.quote(path)

    def in_workspace(self, command: str) -> str:
        """A command to run in the workspace, as one line to paste."""
        return f"cd {shlex.quote(str(self.workspace))} && {command}"


def setup_for(workspace: Path, train_command: str | None = None, tag: str | None = None,
              state_dir: Path | None = None, gpu: str | None = None) -> Setup:
    """Resolve the train command as the trainer does (flag, environment, autoresearch.toml, default).

    Raises SettingsError, naming the setting, where the trainer would refuse its settings.
    """
    workspace = Path(workspace).expanduser().resolve()
    settings = load_settings(TrainerSettings, workspace=workspace, train_command=train_command, gpu=gpu,
                             tag=tag or os.environ.get("AUTORESEARCH_TAG") or ANY_TAG)
    run_env = training_environment(dict(os.environ), settings.gpu, settings.pass_env)
    run_env["PATH"] = run_path(run_env.get("PATH"))
    if (project := uv_project(workspace, settings.train_command, os.environ)) is not None:
        run_env.update(project.run_variables())  # as the trainer gives them: runs use its synced environment
    try:
        command, error = TrainCommand.parse(settings.train_command), None
    except ValueError as exc:
        command, error = None, str(exc)
    program = None
    if command is not None and command.program and command.program not in SHELL_BUILTINS:
        program = find_program(command.program, run_env["PATH"], workspace)
    return Setup(
        workspace=workspace, state_dir=Path(state_dir or workspace / ".autoresearch").expanduser().resolve(),
        command=command, command_error=error, environ=dict(os.environ), run_env=run_env, program=program,
        interpreter=_interpreter(command, program, workspace, run_env),
    )


def _interpreter(command: TrainCommand | None, program: str | None, workspace: Path,
                 run_env: Mapping[str, str]) -> str | None:
    if command is None or program is None:
        return None
    if command.uses_uv:
        python = uv_environment(workspace, run_env) / "bin" / "python"
        return str(python) if python.exists() else None
    if command.runs_python:
        return program
    return script_interpreter(program, run_env["PATH"])
