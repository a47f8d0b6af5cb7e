"""The trainer's pre-flight refuses a workspace it could not run a campaign in, saying what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.trainer.workspace import Workspace, WorkspaceError, branch_name, preflight
from tests.conftest import git, make_workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "ws", "print('val_bpb: 1.0')\n")


def test_a_clean_workspace_with_train_py_passes(workspace: Path) -> None:
    (workspace / "notes.txt").write_text("untracked files are fine")

    assert preflight(workspace, "nov27", resume=False) is None


def test_a_folder_that_is_not_a_repository_points_to_init(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("")

    with pytest.raises(WorkspaceError, match=r"is not a git repository \(create one with `autoresearch init DIR`\)"):
        preflight(tmp_path, "nov27", resume=False)


def test_a_missing_folder_is_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="is not a git repository"):
        preflight(tmp_path / "absent", "nov27", resume=False)


def test_a_repository_without_commits_is_refused(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "train.py").write_text("")

    with pytest.raises(WorkspaceError, match="has no commits yet; commit prepare.py and train.py first"):
        preflight(tmp_path, "nov27", resume=True)


def test_an_existing_branch_needs_resume_or_another_tag(workspace: Path) -> None:
    git(workspace, "branch", branch_name("nov27"))

    with pytest.raises(WorkspaceError, match="branch autoresearch/nov27 already exists") as refused:
        preflight(workspace, "nov27", resume=False)
    assert "choose another --tag, or pass --resume" in str(refused.value)
    assert preflight(workspace, "nov27", resume=True) is None


def test_resume_needs_the_branch(workspace: Path) -> None:
    with pytest.raises(WorkspaceError, match="nothing to resume: branch autoresearch/nov27 does not exist"):
        preflight(workspace, "nov27", resume=True)


def test_a_new_campaign_needs_train_py_but_a_resumed_one_has_it_on_its_branch(workspace: Path) -> None:
    git(workspace, "branch", branch_name("nov27"))
    git(workspace, "rm", "-q", "train.py")
    git(workspace, "commit", "-q", "-m", "no train.py")

    with pytest.raises(WorkspaceError, match="has no train.py"):
        preflight(workspace, "dec01", resume=False)
    assert preflight(workspace, "nov27", resume=True) is None


def test_uncommitted_changes_to_tracked_files_are_refused_by_name(workspace: Path) -> None:
    (workspace / "train.py").write_text("print('changed')\n")

    with pytest.raises(WorkspaceError, match="uncommitted changes to tracked files; commit or stash them first") as refused:
        preflight(workspace, "nov27", resume=False)
    assert "train.py" in str(refused.value)


def test_a_malformed_autoresearch_toml_is_refused_by_name(workspace: Path) -> None:
    (workspace / "autoresearch.toml").write_text("[workspace]\nrun_timeout = 'soon'\n")

    with pytest.raises(WorkspaceError, match="autoresearch.toml has a bad \\[workspace\\] table"):
        preflight(workspace, "nov27", resume=False)


def test_open_campaign_refuses_what_preflight_refuses(workspace: Path) -> None:
    (workspace / "train.py").write_text("print('changed')\n")

    with pytest.raises(WorkspaceError, match="uncommitted changes to tracked files"):
        Workspace(workspace, "nov27").open_campaign()
    assert branch_name("nov27") not in git(workspace, "branch", "--list")


def test_open_campaign_refuses_a_repository_without_commits(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "train.py").write_text("")

    with pytest.raises(WorkspaceError, match="has no commits yet"):
        Workspace(tmp_path, "nov27").open_campaign()


def test_open_campaign_branches_from_head_and_reopens_the_branch(workspace: Path) -> None:
    head = git(workspace, "rev-parse", "HEAD")

    assert Workspace(workspace, "nov27").open_campaign() == head
    git(workspace, "checkout", "-q", "master")
    assert Workspace(workspace, "nov27").open_campaign() == head
    assert git(workspace, "branch", "--show-current") == branch_name("nov27")


def test_reset_after_a_commit_that_never_arrived_moves_the_branch_and_keeps_no_ref(workspace: Path) -> None:
    ws = Workspace(workspace, "c1")
    head = ws.open_campaign()
    ws.reset_to(head, discarded="f" * 40)
    assert ws.head() == head
    assert git(workspace, "for-each-ref", "refs/autoresearch/") == ""
