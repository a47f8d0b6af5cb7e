"""The editor answers a proposal that can never become a commit with a rejection, once, instead of failing on every try."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import git
import pytest
from nats.errors import MaxPayloadError

from services.editor.handlers import EditorContext, on_proposal_created
from services.editor.repo import EditorRepo, MadeCommit
from shared.bus import handle_message
from shared.events import DIFF_MAX, CommitMade, Edit, Event, ProposalCreated, ProposalRejected
from tests.conftest import git as run_git, make_workspace
from tests.fakes import FakePublisher
from tests.message_fakes import FakeMsg

TRAIN_PY = "import time\nDEPTH = 4\nLEARNING_RATE = 0.01\nprint(DEPTH, LEARNING_RATE)\n"
WHEN = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class FakeObjects:
    """Object transport that moves nothing: the editor's repository already holds the base."""

    async def fetch(self, campaign: str, commit: str) -> None:
        pass

    async def ship(self, commit: str, parent: str) -> str:
        return f"commits/{commit}.bundle"


class RefusingPublisher(FakePublisher):
    """Publishes everything except commit.made, which the server refuses as too large."""

    async def __call__(self, event: Event) -> None:
        if isinstance(event, CommitMade):
            raise MaxPayloadError
        await super().__call__(event)


class FailingRepo(EditorRepo):
    """The real repository, except that making the commit fails with the given git error."""

    failure: Exception | None = None

    def commit_file(self, *args, **kwargs) -> MadeCommit:
        raise self.failure


def seeded(tmp_path: Path, kind: type[EditorRepo] = EditorRepo) -> tuple[EditorRepo, str]:
    source = make_workspace(tmp_path / "source", TRAIN_PY)
    repo = kind(tmp_path / "editor.git")
    run_git(repo.path, "fetch", "-q", str(source), "master:refs/heads/master")
    return repo, run_git(source, "rev-parse", "HEAD")


def editor(repo: EditorRepo, publish: FakePublisher) -> EditorContext:
    objects = FakeObjects()
    return EditorContext(repo, publish, objects.fetch, objects.ship, "editor/test")


def proposal(base: str, replace: str = "LEARNING_RATE = 0.02", description: str = "raise the rate") -> ProposalCreated:
    return ProposalCreated(campaign="c1", experiment_id="c1-0001", producer="proposer/1", base_commit=base,
                           description=description, edits=[Edit(search="LEARNING_RATE = 0.01", replace=replace)],
                           occurred_at=WHEN)


async def test_change_whose_diff_exceeds_the_contract_is_rejected_with_the_reason(tmp_path: Path):
    repo, base = seeded(tmp_path)
    publish = FakePublisher()
    blank_lines = DIFF_MAX // 2 + 1  # each becomes '+\n' in the diff
    await on_proposal_created(proposal(base, replace="LEARNING_RATE = 0.02" + "\n" * blank_lines), editor(repo, publish))
    [rejected] = publish.events
    assert isinstance(rejected, ProposalRejected)
    assert "diff" in rejected.reason and str(DIFF_MAX) in rejected.reason


async def test_commit_the_server_refuses_as_too_large_is_rejected_not_retried(tmp_path: Path):
    repo, base = seeded(tmp_path)
    publish = RefusingPublisher()
    await on_proposal_created(proposal(base), editor(repo, publish))
    [rejected] = publish.events
    assert isinstance(rejected, ProposalRejected) and "maximum payload" in rejected.reason


def real_git_error(tmp_path: Path, *args: str, lock: str | None = None) -> git.GitCommandError:
    repo = git.Repo(make_workspace(tmp_path / "other", "x = 1\n"))
    if lock:
        Path(repo.git_dir, lock).touch()
    with pytest.raises(git.GitCommandError) as failed:
        repo.git.execute(["git", *args])
    return failed.value


async def test_change_git_refuses_to_commit_is_rejected_with_gits_words(tmp_path: Path):
    repo, base = seeded(tmp_path, FailingRepo)
    repo.failure = real_git_error(tmp_path, "checkout", "-f", "HEAD:train.py")
    publish = FakePublisher()
    await on_proposal_created(proposal(base), editor(repo, publish))
    [rejected] = publish.events
    assert isinstance(rejected, ProposalRejected) and rejected.reason.startswith("git refused the change:")


async def test_git_lock_while_committing_is_raised_for_a_retry_not_rejected(tmp_path: Path):
    repo, base = seeded(tmp_path, FailingRepo)
    repo.failure = real_git_error(tmp_path, "reset", "--hard", "HEAD", lock="index.lock")
    publish = FakePublisher()
    ctx = editor(repo, publish)
    with pytest.raises(git.GitCommandError):
        await on_proposal_created(proposal(base), ctx)
    assert publish.events == [] and ctx.answered == set()  # the retry will answer it


def test_commit_dates_gits_own_parser_would_misread_are_stamped_exactly(tmp_path: Path):
    repo, base = seeded(tmp_path)
    late = datetime(2999, 1, 1, tzinfo=UTC)
    made = repo.commit_file(base, TRAIN_PY.replace("0.01", "0.02"), "experiment: far ahead", late)
    assert run_git(repo.path, "log", "-1", "--format=%at", made.commit) == str(int(late.timestamp()))


async def test_proposal_whose_description_would_break_the_commit_is_set_aside_on_first_delivery(tmp_path: Path):
    repo, base = seeded(tmp_path)
    publish = FakePublisher()
    ctx = editor(repo, publish)
    good = proposal(base)
    data = good.model_dump_json().replace('"raise the rate"', '"raise\\u0000the rate"').encode()
    msg = FakeMsg(ProposalCreated.subject, data)
    handlers = {ProposalCreated.subject: lambda event: on_proposal_created(event, ctx)}
    await handle_message(msg, handlers, ack_wait=30.0, max_deliver=5)
    assert msg.settled == ["term"] and publish.events == []
