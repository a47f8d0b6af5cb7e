"""Create a new tiny-GPT workspace, or check an existing Karpathy-style one."""

import re
import shlex
import shutil
import sys
from pathlib import Path

from autoresearch.workspace.data import load_prepare_module, user_documents
from autoresearch.workspace.errors import InitError
from autoresearch.workspace.git import has_commits, is_repository_root, make_first_commit, tracked_files
from services.trainer.workspace_config import CONFIG_FILE, WorkspaceConfig, render_workspace_config

TEMPLATE = Path(__file__).parent / "template"
TEMPLATE_FILES = ("prepare.py", "train.py", "program.md")
# Outputs of a run that must never be committed, so a discard cannot lose them.
IGNORED = ("run.log", "results.tsv", "__pycache__/", ".autoresearch/", ".cache/")


def init_workspace(path: Path, time_budget: int = 60, data: Path | None = None) -> Path:
    """Create a git repository at path with prepare.py, train.py, program.md, autoresearch.toml, .gitignore and one first commit."""
    path = Path(path).expanduser().resolve()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InitError(f"{path} already exists and is not empty; choose a new or empty folder")
    if isinstance(time_budget, bool) or not isinstance(time_budget, int) or time_budget <= 0:
        raise InitError(f"time budget must be a positive number of seconds, got {time_budget!r}")
    data = Path(data).expanduser().resolve() if data is not None else None
    # Read the user's text before touching the target, so a bad --data leaves nothing behind.
    documents = user_documents(data) if data is not None else None

    created = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    try:
        _write_files(path, time_budget, data)
        prepare = load_prepare_module(path)
        try:
            prepare.write_data(documents if documents is not None else prepare.stdlib_documents())
        except ValueError as error:
            raise InitError(f"cannot use the text in {data or 'the Python standard library'}: {error}") from None
        make_first_commit(path, "autoresearch workspace: tiny GPT baseline")
    except BaseException:
        _remove_contents(path, remove_folder=created)
        raise
    return path


def adopt_workspace(path: Path) -> list[str]:
    """Check an existing Karpathy-style repo; return a list of plain-language problems (empty = fine)."""
    path = Path(path).expanduser()
    if not path.is_dir():
        return [f"{path} is not a folder"]
    problems = [f"{name} is missing from {path}" for name in ("prepare.py", "train.py") if not (path / name).is_file()]
    if not is_repository_root(path):
        return [*problems, f"{path} is not a git repository (run git init and commit the files)"]
    if not has_commits(path):
        problems.append(f"{path} has no commits yet; commit prepare.py and train.py first")
    for name in tracked_files(path, "run.log", "results.tsv"):
        problems.append(f"{name} is tracked by git; untrack it (git rm --cached {name}) and add it to .gitignore")
    return problems


def _write_files(path: Path, time_budget: int, data: Path | None) -> None:
    for name in TEMPLATE_FILES:
        shutil.copyfile(TEMPLATE / name, path / name)
    prepare = path / "prepare.py"
    source = prepare.read_text(encoding="utf-8")
    source = re.sub(r"^TIME_BUDGET = \d+", f"TIME_BUDGET = {time_budget}", source, count=1, flags=re.M)
    if data is not None:
        source = re.sub(r"^DATA_SOURCE = .*$", lambda _: f"DATA_SOURCE = {str(data)!r}", source, count=1, flags=re.M)
    prepare.write_text(source, encoding="utf-8")
    config = WorkspaceConfig(
        train_command=f"{shlex.quote(sys.executable)} train.py",
        # Room for start-up, evaluation and a slow machine before a run counts as hung.
        run_timeout=max(120, 3 * time_budget + 60),
    )
    (path / CONFIG_FILE).write_text(render_workspace_config(config), encoding="utf-8")
    (path / ".gitignore").write_text("\n".join(IGNORED) + "\n", encoding="utf-8")


def _remove_contents(path: Path, remove_folder: bool) -> None:
    if remove_folder:
        shutil.rmtree(path, ignore_errors=True)
        return
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
