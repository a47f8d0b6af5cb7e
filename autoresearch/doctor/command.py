"""The train command as a run starts it: its program, where the run's PATH finds it, and which Python runs train.py."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from services.trainer.shell import first_command
from services.trainer.uv_project import uv_word

# The shell's own commands: nothing to find on PATH.
SHELL_BUILTINS = {"cd", "export", "set", ".", "source", "true", ":", "eval", "ulimit", "umask", "if", "for", "while"}
_PYTHON = re.compile(r"python(\d+(\.\d+)*)?")


@dataclass(frozen=True)
class TrainCommand:
    """A train command, and the words of its first simple command once assignments and wrappers are set aside."""

    text: str
    words: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> TrainCommand:
        """Split a command as the shell would; ValueError when it is not valid shell (an open quote)."""
        return cls(text, tuple(first_command(text)))

    @property
    def program(self) -> str | None:
        """The program the command starts, as written."""
        return self.words[0] if self.words else None

    @property
    def uses_uv(self) -> bool:
        """True for `uv run ...`: uv then makes the environment from the workspace's pyproject.toml."""
        return uv_word(self.text) is not None

    @property
    def runs_python(self) -> bool:
        """True when the program is a Python interpreter itself (python, python3, /x/bin/python3.11, ...)."""
        return self.program is not None and _PYTHON.fullmatch(Path(self.program).name) is not None


def find_program(program: str, path: str, cwd: Path) -> str | None:
    """Where the shell finds program: a path as written (from cwd), else the first match on path."""
    if "/" in program:
        candidate = cwd / program
        return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None
    return shutil.which(program, path=path)


def script_interpreter(program: str, path: str) -> str | None:
    """The Python a script's `#!` line names (`#!/usr/bin/env python3` looked up on path), if it names one."""
    try:
        with open(program, "rb") as file:
            first = file.readline(256).decode("utf-8", "replace")
    except OSError:
        return None
    if not first.startswith("#!"):
        return None
    words = first[2:].split()
    if words and Path(words[0]).name == "env":
        words = words[1:]
    if not words or not _PYTHON.fullmatch(Path(words[0]).name):
        return None
    return words[0] if "/" in words[0] else shutil.which(words[0], path=path)


def uv_environment(workspace: Path, environ: Mapping[str, str]) -> Path:
    """The environment `uv run` uses for a project: UV_PROJECT_ENVIRONMENT, else the project's .venv."""
    named = environ.get("UV_PROJECT_ENVIRONMENT")
    return workspace / named if named else workspace / ".venv"  # an absolute name stays itself under /
