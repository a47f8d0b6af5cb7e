"""The editor's commits: a description from a model reaches `git log` without a control character."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from services.editor.repo import EditorRepo
from tests.conftest import git, make_workspace

TRAIN_PY = "LEARNING_RATE = 0.01\n"


def test_commit_message_keeps_no_control_sequence_of_the_description(tmp_path: Path) -> None:
    make_workspace(tmp_path / "source", TRAIN_PY)
    repo = EditorRepo(tmp_path / "editor.git")
    git(repo.path, "fetch", "-q", str(tmp_path / "source"), "master:refs/heads/master")
    base = git(tmp_path / "source", "rev-parse", "HEAD")

    made = repo.commit_file(base, "LEARNING_RATE = 0.02\n", "experiment: lr \x9b2J\x9b31mup\u202e x2",
                            datetime(2025, 11, 27, tzinfo=UTC))

    assert git(repo.path, "log", "-1", "--format=%B", made.commit).strip() == "experiment: lr up x2"
