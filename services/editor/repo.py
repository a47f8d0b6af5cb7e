"""The editor's own repository: commits are built with git plumbing, no working tree needed."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from git import GitCommandError

from shared.edits import EDITABLE
from shared.gitobjects import MissingObjects, import_ref, open_mirror, show_file
from shared.text import printable


class RepoError(Exception):
    """The repository does not hold what was asked for."""


@dataclass(frozen=True)
class MadeCommit:
    """A commit and what it changed."""

    commit: str
    diff: str
    lines_added: int
    lines_removed: int


@dataclass
class EditorRepo:
    """A bare clone of the campaign history, fed by bundles from the object store."""

    path: Path

    def __post_init__(self) -> None:
        self.repo = open_mirror(self.path)

    def _git(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            ["git", "-C", str(self.path), *args], input=stdin, capture_output=True, text=True,
            env={**os.environ, **(env or {})},
        )
        if done.returncode != 0:  # GitPython's error, so is_permanent reads git's words here as for every git call
            raise GitCommandError(["git", *args], done.returncode, done.stderr.strip())
        return done.stdout

    def read_file(self, commit: str, name: str = EDITABLE) -> str:
        """A file's text at a commit."""
        try:
            return show_file(self.repo, commit, name)
        except MissingObjects as exc:
            raise RepoError(str(exc)) from None

    def commit_file(self, parent: str, text: str, message: str, when: datetime, name: str = EDITABLE) -> MadeCommit:
        """Commit text as name on top of parent; the same inputs always give the same hash."""
        blob = self._git("hash-object", "-w", "--stdin", stdin=text).strip()
        entries = []
        for line in self._git("ls-tree", parent).splitlines():
            meta, _, path = line.partition("\t")
            mode, kind, _ = meta.split(" ")
            entries.append(f"{mode} {kind} {blob}\t{path}" if path == name else line)
        tree = self._git("mktree", stdin="\n".join(entries) + "\n").strip()
        stamp = f"@{int(when.timestamp())} +0000"  # '@': seconds since 1970 whatever their number of digits
        identity = {"GIT_AUTHOR_NAME": "autoresearch", "GIT_AUTHOR_EMAIL": "autoresearch@localhost",
                    "GIT_COMMITTER_NAME": "autoresearch", "GIT_COMMITTER_EMAIL": "autoresearch@localhost",
                    "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        # the message carries the model's description: `git log` must not hand its terminal a control sequence
        commit = self._git("commit-tree", tree, "-p", parent, "-m", printable(message), env=identity).strip()
        self._git("update-ref", import_ref(commit), commit)
        added, removed, _ = (self._git("diff", "--numstat", parent, commit).split("\t") + ["0", "0", ""])[:3]
        return MadeCommit(commit, self._git("diff", parent, commit), int(added or 0), int(removed or 0))
