"""The train command can start: its program is found where a run will look for it."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from autoresearch.doctor.command import SHELL_BUILTINS
from autoresearch.doctor.findings import Finding, failed, passed
from autoresearch.doctor.setup import Setup

NAME = "train command"
SET_COMMAND = "give --train-command, or set train_command in the workspace's autoresearch.toml"


def check_train_command(setup: Setup) -> list[Finding]:
    """The command parses, and its program (for `uv run ...`, uv) is on the run's PATH."""
    if setup.command is None:
        return [failed(NAME, f"the train command is not valid shell ({setup.command_error})", SET_COMMAND)]
    text, program = setup.command.text, setup.command.program
    if program is None:
        return [failed(NAME, f"`{text}` names no program to run", SET_COMMAND)]
    if program in SHELL_BUILTINS:
        return [passed(NAME, f"`{text}` starts with the shell's own `{program}`; what it runs is not checked")]
    if setup.program is None:
        if setup.command.uses_uv:
            return [failed(NAME, f"`{text}` needs uv, which is neither on PATH nor beside autoresearch's "
                                 f"interpreter in {Path(sys.executable).parent}",
                           f"{shlex.quote(sys.executable)} -m pip install uv")]
        return [failed(NAME, f"`{text}`: {program} is not found on the PATH runs get",
                       f"install {program}, or {SET_COMMAND} with a program that is there")]
    beside = Path(setup.program).parent == Path(sys.executable).parent and setup.shown(setup.program) != program
    where = " (beside autoresearch's interpreter; runs find it at the end of their PATH)" if beside else ""
    found = "is there" if setup.program == program else f"is {setup.program}"
    return [passed(NAME, f"`{text}`: {program} {found}{where}")]
