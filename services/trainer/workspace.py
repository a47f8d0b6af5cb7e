"""The workspace repository, which only the trainer touches: checkouts, each run's clean room, the campaign branch."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import git

from services.trainer.cleanroom import CleanRoom, sweep_rooms
from services.trainer.workspace_config import load_workspace_config
from shared.edits import EDITABLE
from shared.gitobjects import import_ref, inert
from shared.settings import SettingsError

UNTRACKED = ("run.log", "results.tsv", ".autoresearch/")


class WorkspaceError(SettingsError):
    """The workspace cannot be used as it is; the message says why and what to do."""


def branch_name(campaign: str) -> str:
    """The campaign branch."""
    return f"autoresearch/{campaign}"


def discarded_ref(campaign: str, commit: str) -> str:
    """The ref that keeps a discarded commit reachable after its branch moves back."""
    return f"refs/autoresearch/{campaign}/discarded/{commit[:7]}"


def open_repository(path: Path) -> git.Repo:
    """The git repository whose working tree is path, opened so that git runs nothing the repository names."""
    try:
        return inert(git.Repo(path))
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise WorkspaceError(f"{path} is not a git repository (create one with `autoresearch init DIR`)") from None


def preflight(workspace: Path, tag: str, resume: bool) -> None:
    """Refuse, before anything starts, a workspace (or its autoresearch.toml) the trainer could not run campaign tag in."""
    repo = open_repository(workspace)
    _require_commits(repo, workspace)
    branch = branch_name(tag)
    exists = _has_branch(repo, branch)
    if exists and not resume:
        raise WorkspaceError(f"branch {branch} already exists in {workspace}: choose another --tag, or pass --resume to continue that campaign")
    if resume and not exists:
        raise WorkspaceError(f"nothing to resume: branch {branch} does not exist in {workspace}")
    _require_ready(repo, workspace, exists)
    try:
        load_workspace_config(workspace)
    except SettingsError as error:
        raise WorkspaceError(str(error)) from None


def _has_branch(repo: git.Repo, branch: str) -> bool:
    return f"refs/heads/{branch}" in {ref.path for ref in repo.references}


def _require_commits(repo: git.Repo, path: Path) -> None:
    if not repo.head.is_valid():
        raise WorkspaceError(f"{path} has no commits yet; commit prepare.py and train.py first")


def _require_ready(repo: git.Repo, path: Path, branch_exists: bool) -> None:
    """A new campaign needs train.py; any campaign needs a clean tree, since checkouts are forced."""
    if not branch_exists and not (path / "train.py").exists():
        raise WorkspaceError(f"{path} has no train.py")
    dirty = repo.git.status("--porcelain", "--untracked-files=no").strip()
    if dirty:
        raise WorkspaceError(f"{path} has uncommitted changes to tracked files; commit or stash them first:\n{dirty}")


@dataclass
class Workspace:
    """A git working tree holding train.py, driven through its campaign branch."""

    path: Path
    campaign: str
    room: CleanRoom | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.repo = open_repository(self.path)
        self.branch = branch_name(self.campaign)

    def branch_exists(self) -> bool:
        """True when the campaign branch is already there."""
        return _has_branch(self.repo, self.branch)

    def open_campaign(self) -> str:
        """Check out the campaign branch, creating it from HEAD; return its tip."""
        _require_commits(self.repo, self.path)
        exists = self.branch_exists()
        _require_ready(self.repo, self.path, exists)
        self._exclude_untracked()
        sweep_rooms()  # what a trainer killed outright left in the temp folder
        inert(self.repo)
        if exists:
            self.repo.git.checkout("-f", self.branch)
        else:
            self.repo.git.checkout("-b", self.branch)
        return self.head()

    def head(self) -> str:
        """The campaign branch tip."""
        return self.repo.git.rev_parse(f"refs/heads/{self.branch}")

    def check_out(self, commit: str) -> None:
        """Build the clean room the next run of commit happens in, and put commit in the working tree (detached).

        The branch does not move. The working tree shows what runs; the run itself never sees it.
        """
        self.drop_room()
        inert(self.repo)
        self.repo.git.checkout("-f", "--detach", commit)
        self.room = CleanRoom.build(self.repo, commit, self.path)

    def take_room(self) -> CleanRoom:
        """The room check_out built, now the caller's to run in and remove."""
        room, self.room = self.room, None
        if room is None:
            raise RuntimeError("no clean room: check_out builds one before each run")
        return room

    def drop_room(self) -> None:
        """Remove a room built for a run that never happened."""
        if self.room is not None:
            self.take_room().remove()

    def advance(self, commit: str) -> None:
        """Keep: move the branch to commit and check it out."""
        inert(self.repo)
        self.repo.git.checkout("-f", "-B", self.branch, commit)
        self._drop_import_ref(commit)

    def reset_to(self, commit: str, discarded: str | None = None) -> None:
        """Discard: the branch goes back to commit; the discarded commit stays reachable under its own ref."""
        if discarded and self.has_commit(discarded):  # a commit that never arrived has nothing to keep
            self.repo.git.update_ref(discarded_ref(self.campaign, discarded), discarded)
            self._drop_import_ref(discarded)
        inert(self.repo)
        self.repo.git.checkout("-f", "-B", self.branch, commit)

    def has_commit(self, commit: str) -> bool:
        """True when the repository holds the commit."""
        try:
            self.repo.git.cat_file("-e", f"{commit}^{{commit}}")
        except git.GitCommandError:
            return False
        return True

    def refusal(self, commit: str, parent: str) -> str | None:
        """Why an imported commit may not run here, or None: it must sit on parent and change train.py alone."""
        actual = self.repo.git.rev_list("--parents", "-n", "1", commit).split()[1:]
        if actual != [parent]:
            return f"its parents are {', '.join(p[:7] for p in actual) or 'none'}, not the branch tip {parent[:7]}"
        changed = set(self.repo.git.diff("--name-only", "--no-renames", "-z", parent, commit).split("\0")) - {""}
        others = sorted(changed - {EDITABLE})
        return f"it changes files other than {EDITABLE}: {', '.join(others)[:500]}" if others else None

    def _drop_import_ref(self, commit: str) -> None:
        """The branch or the discarded ref now holds the commit; the ref made on import is no longer needed."""
        ref = import_ref(commit)
        if self.repo.git.for_each_ref(ref):
            self.repo.git.update_ref("-d", ref)

    def _exclude_untracked(self) -> None:
        """run.log, results.tsv and the state folder never show up as changes to commit."""
        exclude = Path(self.repo.git_dir) / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        lines = exclude.read_text().splitlines() if exclude.exists() else []
        missing = [entry for entry in UNTRACKED if entry not in lines]
        if missing:
            exclude.write_text("\n".join(lines + missing) + "\n")
