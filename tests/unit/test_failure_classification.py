"""Which failures the bus sets aside at once (they would fail again) and which it hands back for a retry."""

from __future__ import annotations

import errno
from pathlib import Path

import git
import pytest
from nats.errors import MaxPayloadError, TimeoutError as NatsTimeoutError

from shared.bus import handle_message
from shared.failures import is_permanent
from shared.events import VerdictDecided
from shared.gitobjects import MissingObjects
from tests.conftest import make_workspace
from tests.message_fakes import FakeMsg

HEAD = "a" * 40


def git_error(repo: git.Repo, *args: str) -> git.GitCommandError:
    """The error GitPython raises for a real git command that fails."""
    with pytest.raises(git.GitCommandError) as failed:
        repo.git.execute(["git", *args])
    return failed.value


@pytest.fixture
def repo(tmp_path: Path) -> git.Repo:
    return git.Repo(make_workspace(tmp_path / "workspace", "print(1)\n"))


def blob_of(repo: git.Repo) -> str:
    return repo.git.rev_parse("HEAD:train.py")


def test_head_that_is_a_blob_not_a_tree_is_permanent(repo: git.Repo):
    assert is_permanent(git_error(repo, "checkout", "-f", blob_of(repo)))


def test_object_that_is_not_in_the_repository_is_permanent(repo: git.Repo):
    assert is_permanent(git_error(repo, "reset", "--hard", "e" * 40))


def test_file_missing_at_a_commit_is_permanent(repo: git.Repo):
    assert is_permanent(git_error(repo, "show", "HEAD:nope.py"))


def test_commit_date_git_cannot_parse_is_permanent(repo: git.Repo):
    tree = repo.git.rev_parse("HEAD^{tree}")
    with pytest.raises(git.GitCommandError) as failed:
        repo.git.execute(["git", "commit-tree", tree, "-m", "m"], env={"GIT_AUTHOR_DATE": "32503680000 +0000"})
    assert is_permanent(failed.value)


def test_index_lock_held_by_another_git_process_is_transient(repo: git.Repo):
    lock = Path(repo.git_dir) / "index.lock"
    lock.touch()
    assert not is_permanent(git_error(repo, "reset", "--hard", "HEAD"))


def test_ref_lock_held_by_another_git_process_is_transient(repo: git.Repo):
    Path(repo.git_dir, "refs", "heads", "master.lock").touch()
    assert not is_permanent(git_error(repo, "update-ref", "refs/heads/master", "HEAD"))


def test_git_killed_by_a_signal_is_transient():
    assert not is_permanent(git.GitCommandError(["git", "fetch"], -9, "", ""))


def test_derived_event_that_cannot_be_built_is_permanent():
    with pytest.raises(Exception) as failed:
        VerdictDecided(campaign="c1", experiment_id="c1-0001", producer="t/1", commit=HEAD, status="keep", head="tree")
    assert is_permanent(failed.value)


def test_payload_too_large_and_missing_bundle_are_permanent():
    assert is_permanent(MaxPayloadError())
    assert is_permanent(MissingObjects("no bundle for commit eee in the object store"))


@pytest.mark.parametrize("error", [
    RuntimeError("handler bug or hiccup"), OSError(errno.ENOSPC, "No space left on device"), NatsTimeoutError(),
    ConnectionResetError(),
])
def test_everything_else_is_transient(error: Exception):
    assert not is_permanent(error)


def verdict_message() -> FakeMsg:
    event = VerdictDecided(campaign="c1", experiment_id="c1-0001", producer="t/1", commit=HEAD, status="keep", head=HEAD)
    return FakeMsg(VerdictDecided.subject, event.model_dump_json().encode())


async def test_deterministic_failure_is_terminated_on_its_first_delivery(repo: git.Repo):
    refusal = git_error(repo, "checkout", "-f", blob_of(repo))

    async def handler(event) -> None:
        raise refusal

    msg = verdict_message()
    await handle_message(msg, {VerdictDecided.subject: handler}, ack_wait=30.0, max_deliver=5)
    assert msg.settled == ["term"]


async def test_transient_failure_is_handed_back_with_a_delay(repo: git.Repo):
    Path(repo.git_dir, "index.lock").touch()
    locked = git_error(repo, "reset", "--hard", "HEAD")

    async def handler(event) -> None:
        raise locked

    msg = verdict_message()
    await handle_message(msg, {VerdictDecided.subject: handler}, ack_wait=30.0, max_deliver=5)
    assert msg.settled == ["nak"] and msg.nak_delays[0] > 0
