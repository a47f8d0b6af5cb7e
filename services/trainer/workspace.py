"""The workspace repository, which only the trainer touches: checkouts, each run's clean room, the campaign branch."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import git

from services.trainer.cleanroom import CleanRoom, sweep_rooms
from services.trainer.workspace_config import load_workspace_config
from shared.edits import EDITABLE
from shared.gitobjects import changed_paths, import_ref, inert, object_kind
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
    """A git working tree holding train.py, driven through its campaign branch.

    Only the trainer moves the branch, so its tip is remembered rather than asked of git each time. Objects are
    read through the repository's one long-lived `git cat-file` (not thread-safe: callers run one git step at a time).
    """

    path: Path
    campaign: str
    room: CleanRoom | None = field(default=None, init=False, repr=False)
    tip: str | None = field(default=None, init=False, repr=False)
    config_stale: bool = field(default=True, init=False, repr=False)  # a run may have rewritten git's config since

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
        self.config_stale = True
        if exists:
            self._checkout(self.branch)
        else:
            self._checkout("-b", self.branch)
        self.tip = None
        return self.head()

    def head(self) -> str:
        """The campaign branch tip."""
        if self.tip is None:
            self.tip = self.repo.git.rev_parse(f"refs/heads/{self.branch}")
        return self.tip

    def build_room(self, commit: str) -> CleanRoom:
        """The clean room of a run of commit, from git's objects alone: neither the branch nor the working tree moves."""
        return CleanRoom.build(self.repo, commit, self.path)

    def check_out(self, commit: str, room: CleanRoom | None = None) -> None:
        """Hold the room the next run of commit happens in (room, or one built now), and put commit in the working
        tree (detached).

        The branch does not move. The working tree shows what runs; the run itself never sees it.
        """
        self.drop_room()
        self.room = room  # held from here on, so that a failed checkout still has it removed (drop_room)
        self._checkout("--detach", commit)
        if self.room is None:
            self.room = self.build_room(commit)

    def take_room(self) -> CleanRoom:
        """The room check_out built, now the caller's to run in and remove."""
        room, self.room = self.room, None
        if room is None:
            raise RuntimeError("no clean room: check_out builds one before each run")
        self.config_stale = True  # the run starts now, and may rewrite .git/config: look again before a checkout
        return room

    def drop_room(self) -> None:
        """Remove a room built for a run that never happened."""
        if self.room is not None:
            room, self.room = self.room, None
            room.remove()

    def advance(self, commit: str) -> None:
        """Keep: move the branch to commit and check it out."""
        self._checkout("-B", self.branch, commit)
        self.tip = commit
        self._update_refs(f"delete {import_ref(commit)}")  # the branch holds it now

    def reset_to(self, commit: str, discarded: str | None = None) -> None:
        """Discard: the branch goes back to commit; the discarded commit stays reachable under its own ref."""
        if discarded and self.has_commit(discarded):  # a commit that never arrived has nothing to keep
            self._update_refs(f"update {discarded_ref(self.campaign, discarded)} {discarded}",
                              f"delete {import_ref(discarded)}")  # its own ref holds it now
        self._checkout("-B", self.branch, commit)
        self.tip = commit

    def forget(self, commit: str) -> None:
        """Let go of an imported commit that will not run here (sent back stale): nothing keeps it any longer."""
        self._update_refs(f"delete {import_ref(commit)}")

    def has_commit(self, commit: str) -> bool:
        """True when the repository holds the commit."""
        return object_kind(self.repo, commit) == "commit"

    def refusal(self, commit: str, parent: str) -> str | None:
        """Why an imported commit may not run here, or None: it must sit on parent and change train.py alone."""
        if not self.has_commit(commit):
            return f"{commit[:7]} is not a commit"
        found = git.Commit(self.repo, bytes.fromhex(commit))
        actual = [p.hexsha for p in found.parents]
        if actual != [parent]:
            return f"its parents are {', '.join(p[:7] for p in actual) or 'none'}, not the branch tip {parent[:7]}"
        before = git.Commit(self.repo, bytes.fromhex(parent)).tree.binsha
        others = sorted(set(changed_paths(self.repo, before, found.tree.binsha)) - {EDITABLE})
        return f"it changes files other than {EDITABLE}: {', '.join(others)[:500]}" if others else None

    def _checkout(self, *args: str) -> None:
        """A forced checkout, after making git inert again if a run may have changed its config since it last was."""
        # Filter drivers run on checkout, named in config that only a run (or a person) changes: asking git
        # which ones are named once after each run, not before every checkout, saves a process per checkout.
        if self.config_stale:
            inert(self.repo)
            self.config_stale = False
        self.repo.git.checkout("-f", *args)

    def _update_refs(self, *commands: str) -> None:
        """Several ref changes in one git process (deleting a ref that is not there is no error)."""
        process = self.repo.git.update_ref("--stdin", istream=subprocess.PIPE, as_process=True)
        process.proc.stdin.write(("\n".join(commands) + "\n").encode())
        process.proc.stdin.close()
        process.wait()  # raises GitCommandError, with git's own words, when a change is refused

    def _exclude_untracked(self) -> None:
        """run.log, results.tsv and the state folder never show up as changes to commit."""
        exclude = Path(self.repo.git_dir) / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        lines = exclude.read_text().splitlines() if exclude.exists() else []
        missing = [entry for entry in UNTRACKED if entry not in lines]
        if missing:
            exclude.write_text("\n".join(lines + missing) + "\n")
