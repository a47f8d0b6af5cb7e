"""The data prepare.py expects: each folder and file its constants name (DATA_DIR, TOKENIZER_DIR, VAL_FILENAME)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path, PurePath

from autoresearch.doctor.constants import module_constants
from autoresearch.doctor.findings import Finding, failed, passed
from autoresearch.doctor.setup import Setup

NAME = "data"
_FOLDER = re.compile(r"[A-Z][A-Z0-9_]*_DIR")
_FILE = re.compile(r"[A-Z][A-Z0-9_]*_(FILE|FILENAME|PATH)")
SHOWN = 3  # missing places named in the one line


@dataclass(frozen=True)
class Place:
    """A folder or file a constant of prepare.py names."""

    name: str
    path: Path
    folder: bool


def data_places(constants: dict[str, object], workspace: Path) -> list[Place]:
    """The folders (*_DIR) and files (*_FILE, *_FILENAME, *_PATH) the constants name."""
    folders = [Place(name, _absolute(value, workspace), True)
               for name, value in constants.items() if _FOLDER.fullmatch(name) and _path(value)]
    files = []
    for name, value in constants.items():
        if not _FILE.fullmatch(name) or not _path(value):
            continue
        if len(PurePath(value).parts) == 1 and folders:  # a bare name such as VAL_FILENAME: inside a data folder
            found = [f.path / value for f in folders if (f.path / value).exists()]
            files.append(Place(name, found[0] if found else PurePath(value), False))
        else:
            files.append(Place(name, _absolute(value, workspace), False))
    places = [*folders, *files]
    # CACHE_DIR holds DATA_DIR: the deeper place says more, and a folder holding another is not empty anyway
    return [p for p in places if not (p.folder and any(q is not p and _holds(p.path, q.path) for q in places))]


def missing(place: Place) -> str | None:
    """Why a place is not ready (absent, empty), or None."""
    path = place.path
    if not path.is_absolute():
        return f"{place.name} ({path}) is in none of prepare.py's data folders"
    if place.folder:
        if not path.is_dir():
            return f"{place.name} ({path}) does not exist"
        if not any(path.iterdir()):
            return f"{place.name} ({path}) is empty"
        return None
    return None if path.exists() else f"{place.name} ({path}) does not exist"


def check_data(setup: Setup) -> list[Finding]:
    """Every place prepare.py names exists (folders not empty); else the command that makes them."""
    prepare = setup.workspace / "prepare.py"
    try:
        source = prepare.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return [passed(NAME, "no prepare.py: nothing to check")]
    places = data_places(module_constants(source, prepare, setup.run_env), setup.workspace)
    if not places:
        return [passed(NAME, "prepare.py names no data folder or file (no *_DIR, *_FILE or *_PATH constant)")]
    problems = [problem for place in places if (problem := missing(place))]
    if problems:
        more = f" and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        return [failed(NAME, f"prepare.py's data is missing: {'; '.join(problems[:SHOWN])}{more}",
                       setup.in_workspace(_prepare_command(setup)))]
    return [passed(NAME, ", ".join(f"{p.name} {p.path}" for p in places))]


def _prepare_command(setup: Setup) -> str:
    """The train command's own way of running Python, on prepare.py: `uv run prepare.py` for `uv run train.py`."""
    if setup.command and setup.program and "train.py" in setup.command.words:
        program, *rest = setup.command.words
        first = setup.shown(setup.program) if "/" not in program else shlex.quote(program)
        return " ".join([first, *(shlex.quote("prepare.py" if word == "train.py" else word) for word in rest)])
    return f"{setup.shown(setup.interpreter) if setup.interpreter else 'python3'} prepare.py"


def _path(value: object) -> bool:
    return isinstance(value, PurePath) or isinstance(value, str) and bool(value.strip()) and "://" not in value


def _absolute(value: object, workspace: Path) -> Path:
    path = Path(str(value))
    return path if path.is_absolute() else workspace / path


def _holds(folder: PurePath, other: PurePath) -> bool:
    return folder != other and other.is_relative_to(folder)
