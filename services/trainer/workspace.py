"""The workspace repository, which only the trainer touches: checkouts and the campaign branch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import git

from shared.gitobjects import import_ref
from shared.settings import SettingsError

UNTRACKED = ("run.log", "results.tsv", ".autoresearch/")


class WorkspaceError(SettingsError):
    """The workspace cannot be used as it is; the message says why."""


def branch_name(campaign: str) -> str:
    """The campaign branch."""
    return f"autoresearch/{campaign}"


@dataclass
class Workspace:
    """A git working tree holding train.py, driven through its campaign branch."""

    path: Path
    campaign: str

    def __post_init__(self) -> None:
        try:
            self.repo = git.Repo(self.path)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise WorkspaceError(f"{self.path} is not a git repository") from None
        self.branch = branch_name(self.campaign)

    def branch_exists(self) -> bool:
        """True when the campaign branch is already there."""
        return f"refs/heads/{self.branch}" in {ref.path for ref in self.repo.references}

    def open_campaign(self) -> str:
        """Check out the campaign branch, creating it from HEAD; return its tip."""
        self._exclude_untracked()
        dirty = self.repo.git.status("--porcelain", "--untracked-files=no").strip()
        if dirty:
            raise WorkspaceError(f"{self.path} has uncommitted changes to tracked files:\n{dirty}\ncommit or stash them first")
        if not (self.path / "train.py").exists() and not self.branch_exists():
            raise WorkspaceError(f"{self.path} has no train.py")
        if self.branch_exists():
            self.repo.git.checkout("-f", self.branch)
        else:
            self.repo.git.checkout("-b", self.branch)
        return self.head()

    def head(self) -> str:
        """The campaign branch tip."""
        return self.repo.git.rev_parse(f"refs/heads/{self.branch}")

    def check_out(self, commit: str) -> None:
        """Put commit in the working tree (detached) for a run; the branch does not move."""
        self.repo.git.checkout("-f", "--detach", commit)

    def advance(self, commit: str) -> None:
        """Keep: move the branch to commit and check it out."""
        self.repo.git.checkout("-f", "-B", self.branch, commit)
        self._drop_import_ref(commit)

    def reset_to(self, commit: str, discarded: str | None = None) -> None:
        """Discard: the branch goes back to commit; the discarded commit stays reachable under its own ref."""
        if discarded:
            self.repo.git.update_ref(f"refs/autoresearch/{self.campaign}/discarded/{discarded[:7]}", discarded)
            self._drop_import_ref(discarded)
        self.repo.git.checkout("-f", "-B", self.branch, commit)

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
