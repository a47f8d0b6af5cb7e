"""Editor handlers with a real git repository, a fake publisher and fake object transport."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.editor.handlers import EditorContext, on_commit_stale, on_proposal_created
from services.editor.repo import EditorRepo
from services.proposer.llm.answer import AnswerError, parse_answer, to_edits
from shared.edits import EditError, editable_path
from shared.events import CommitMade, CommitStale, Edit, ProposalCreated, ProposalRejected
from tests.conftest import git, make_workspace
from tests.fakes import FakePublisher

TRAIN_PY = "import time\nDEPTH = 4\nLEARNING_RATE = 0.01\nprint(DEPTH, LEARNING_RATE)\n"
WHEN = datetime(2025, 11, 27, 12, 0, tzinfo=UTC)



class FakeObjects:
    """Stands in for the object store: records fetches and shipments, moves nothing."""

    def __init__(self) -> None:
        self.fetched: list[tuple[str, str]] = []
        self.shipped: list[tuple[str, str]] = []

    async def fetch(self, campaign: str, commit: str) -> None:
        self.fetched.append((campaign, commit))

    async def ship(self, commit: str, parent: str) -> str:
        self.shipped.append((commit, parent))
        return f"commits/{commit}.bundle"


def seeded_repo(tmp_path: Path, name: str = "editor.git") -> tuple[EditorRepo, str]:
    """An editor repository holding a workspace's first commit; returns it and the base hash."""
    source = tmp_path / "source"
    if not source.exists():
        make_workspace(source, TRAIN_PY)
    repo = EditorRepo(tmp_path / name)
    git(repo.path, "fetch", "-q", str(source), "master:refs/heads/master")
    return repo, git(source, "rev-parse", "HEAD")


def context(repo: EditorRepo) -> tuple[EditorContext, FakePublisher, FakeObjects]:
    publish, objects = FakePublisher(), FakeObjects()
    return EditorContext(repo, publish, objects.fetch, objects.ship, "editor/test"), publish, objects


def proposal(base: str, search: str = "LEARNING_RATE = 0.01", replace: str = "LEARNING_RATE = 0.02",
             number: int = 1, description: str = "double the learning rate") -> ProposalCreated:
    return ProposalCreated(campaign="c1", experiment_id=f"c1-{number:04d}", producer="proposer/1", base_commit=base,
                           description=description, edits=[Edit(search=search, replace=replace)], occurred_at=WHEN)


@pytest.fixture
def editor(tmp_path: Path):
    repo, base = seeded_repo(tmp_path)
    ctx, publish, objects = context(repo)
    return repo, base, ctx, publish, objects


async def test_good_proposal_becomes_a_commit_on_its_base(editor):
    repo, base, ctx, publish, objects = editor
    await on_proposal_created(proposal(base), ctx)
    [made] = publish.events
    assert isinstance(made, CommitMade)
    assert (made.parent, made.message, made.description) == (base, "experiment: double the learning rate",
                                                             "double the learning rate")
    assert (made.lines_added, made.lines_removed) == (1, 1)
    assert "-LEARNING_RATE = 0.01\n+LEARNING_RATE = 0.02" in made.diff
    assert made.diff.startswith("diff --git a/train.py b/train.py")
    assert made.bundle == f"commits/{made.commit}.bundle" and made.rebased_from is None
    assert git(repo.path, "rev-parse", f"{made.commit}^") == base
    assert git(repo.path, "log", "-1", "--format=%s", made.commit) == "experiment: double the learning rate"
    assert repo.read_file(made.commit) == TRAIN_PY.replace("0.01", "0.02")
    assert objects.fetched == [("c1", base)] and objects.shipped == [(made.commit, base)]


async def test_same_proposal_twice_publishes_once(editor):
    _, base, ctx, publish, objects = editor
    await on_proposal_created(proposal(base), ctx)
    await on_proposal_created(proposal(base), ctx)
    assert len(publish.events) == 1
    assert len(objects.shipped) == 1


async def test_same_proposal_on_the_same_parent_gives_the_same_hash(tmp_path: Path):
    first_repo, base = seeded_repo(tmp_path, "first.git")
    second_repo, _ = seeded_repo(tmp_path, "second.git")
    first, first_events, _ = context(first_repo)
    second, second_events, _ = context(second_repo)
    await on_proposal_created(proposal(base), first)
    await on_proposal_created(proposal(base), second)
    assert first_events.events[0].commit == second_events.events[0].commit
    again = first_repo.commit_file(base, TRAIN_PY.replace("0.01", "0.02"), "experiment: double the learning rate", WHEN)
    assert again.commit == first_events.events[0].commit


async def test_different_description_gives_a_different_hash(editor):
    repo, base, *_ = editor
    text = TRAIN_PY.replace("0.01", "0.02")
    first = repo.commit_file(base, text, "experiment: a", WHEN)
    second = repo.commit_file(base, text, "experiment: b", WHEN)
    assert first.commit != second.commit


async def test_proposal_whose_search_is_missing_is_rejected_with_the_reason(editor):
    _, base, ctx, publish, objects = editor
    await on_proposal_created(proposal(base, search="WIDTH = 4", replace="WIDTH = 8", description="wider"), ctx)
    [rejected] = publish.events
    assert isinstance(rejected, ProposalRejected)
    assert "does not occur" in rejected.reason
    assert (rejected.description, rejected.base_commit, rejected.experiment_id) == ("wider", base, "c1-0001")
    assert objects.shipped == []


async def test_proposal_that_breaks_the_syntax_is_rejected(editor):
    _, base, ctx, publish, _ = editor
    await on_proposal_created(proposal(base, replace="LEARNING_RATE = (0.02"), ctx)
    [rejected] = publish.events
    assert isinstance(rejected, ProposalRejected)
    assert "does not compile" in rejected.reason and "line" in rejected.reason


def llm_answer(*edits: dict) -> str:
    """A model's answer text carrying the given edit blocks."""
    return json.dumps({"description": "from the model", "edits": list(edits)})


def proposal_of(base: str, edits: list[Edit]) -> ProposalCreated:
    return ProposalCreated(campaign="c1", experiment_id="c1-0001", producer="proposer/1", base_commit=base,
                           description="from the model", edits=edits, occurred_at=WHEN)


async def test_edits_the_llm_proposer_accepts_are_committed_by_the_editor(editor):
    repo, base, ctx, publish, _ = editor
    blocks = [{"search": "DEPTH = 4", "replace": "DEPTH = 5"}, {"search": "DEPTH = 5", "replace": "DEPTH = 6"}]
    edits = to_edits(parse_answer(llm_answer(*blocks)), TRAIN_PY, max_file_chars=10_000)
    await on_proposal_created(proposal_of(base, edits), ctx)
    [made] = publish.events
    assert isinstance(made, CommitMade)
    assert repo.read_file(made.commit) == TRAIN_PY.replace("DEPTH = 4", "DEPTH = 6")


async def test_search_the_llm_proposer_refuses_is_refused_by_the_editor_for_the_same_reason(editor):
    _, base, ctx, publish, _ = editor
    twice = {"search": "DEPTH", "replace": "WIDTH"}  # in the assignment and in the print
    with pytest.raises(AnswerError) as refused:
        to_edits(parse_answer(llm_answer(twice)), TRAIN_PY, max_file_chars=10_000)
    await on_proposal_created(proposal_of(base, [Edit(**twice)]), ctx)
    [rejected] = publish.events
    assert isinstance(rejected, ProposalRejected)
    assert rejected.reason == str(refused.value)
    assert "occurs 2 times" in rejected.reason


async def test_path_the_llm_proposer_refuses_is_refused_by_the_editor_for_the_same_reason(editor):
    _, base, ctx, publish, _ = editor
    with pytest.raises(EditError) as rule:
        editable_path("../train.py")
    with pytest.raises(AnswerError) as refused:
        parse_answer(llm_answer({"path": "../train.py", "search": "DEPTH = 4", "replace": "DEPTH = 5"}))
    await on_proposal_created(proposal_of(base, [Edit(path="../train.py", search="DEPTH = 4", replace="DEPTH = 5")]), ctx)
    [rejected] = publish.events
    assert isinstance(rejected, ProposalRejected)
    assert str(rule.value) in str(refused.value) and str(rule.value) in rejected.reason


async def test_proposal_on_an_unknown_base_is_rejected(editor):
    _, _, ctx, publish, _ = editor
    await on_proposal_created(proposal("e" * 40), ctx)
    [rejected] = publish.events
    assert isinstance(rejected, ProposalRejected)
    assert "does not exist" in rejected.reason


async def test_rejected_proposal_redelivered_is_not_answered_again(editor):
    _, base, ctx, publish, _ = editor
    bad = proposal(base, search="nowhere")
    await on_proposal_created(bad, ctx)
    await on_proposal_created(bad, ctx)
    assert len(publish.events) == 1


async def test_proposal_answered_before_a_restart_is_not_committed_again(editor):
    repo, base, ctx, publish, _ = editor
    await on_proposal_created(proposal(base), ctx)
    restarted, republished, _ = context(repo)
    for event in [proposal(base), *publish.events]:
        restarted.remember(event)
    await on_proposal_created(proposal(base), restarted)
    assert republished.events == []


async def kept_head(ctx: EditorContext, publish: FakePublisher, base: str) -> str:
    """Commit another experiment on base (the one that was kept) and return its hash."""
    await on_proposal_created(proposal(base, "DEPTH = 4", "DEPTH = 6", number=2, description="deeper"), ctx)
    return publish.events[-1].commit


async def test_stale_commit_is_reapplied_onto_the_new_head(editor):
    repo, base, ctx, publish, _ = editor
    await on_proposal_created(proposal(base), ctx)
    stale = publish.events[0].commit
    head = await kept_head(ctx, publish, base)
    await on_commit_stale(CommitStale(campaign="c1", experiment_id="c1-0001", producer="trainer/1", commit=stale,
                                      head=head), ctx)
    rebased = publish.events[-1]
    assert isinstance(rebased, CommitMade)
    assert (rebased.parent, rebased.rebased_from, rebased.experiment_id) == (head, stale, "c1-0001")
    assert rebased.commit not in (stale, head)
    assert git(repo.path, "rev-parse", f"{rebased.commit}^") == head
    assert repo.read_file(rebased.commit) == TRAIN_PY.replace("0.01", "0.02").replace("DEPTH = 4", "DEPTH = 6")


async def test_stale_commit_redelivered_is_reapplied_once(editor):
    _, base, ctx, publish, _ = editor
    await on_proposal_created(proposal(base), ctx)
    stale_event = CommitStale(campaign="c1", experiment_id="c1-0001", producer="trainer/1",
                              commit=publish.events[0].commit, head=await kept_head(ctx, publish, base))
    await on_commit_stale(stale_event, ctx)
    await on_commit_stale(stale_event, ctx)
    assert len(publish.events) == 3


async def test_stale_commit_that_no_longer_applies_is_rejected(editor):
    _, base, ctx, publish, _ = editor
    await on_proposal_created(proposal(base, "DEPTH = 4", "DEPTH = 8", number=1, description="much deeper"), ctx)
    stale = publish.events[0].commit
    head = await kept_head(ctx, publish, base)
    await on_commit_stale(CommitStale(campaign="c1", experiment_id="c1-0001", producer="trainer/1", commit=stale,
                                      head=head), ctx)
    rejected = publish.events[-1]
    assert isinstance(rejected, ProposalRejected)
    assert rejected.reason.startswith(f"no longer applies on {head[:7]}")
    assert (rejected.base_commit, rejected.description) == (stale, "much deeper")


async def test_stale_commit_of_an_unknown_proposal_publishes_nothing(editor):
    _, base, ctx, publish, _ = editor
    await on_commit_stale(CommitStale(campaign="c1", experiment_id="c1-0009", producer="trainer/1", commit="1" * 40,
                                      head=base), ctx)
    assert publish.events == []


async def test_proposal_on_an_unknown_base_is_rejected_not_retried(tmp_path):
    from shared.gitobjects import MissingObjects

    publisher = FakePublisher()

    async def nothing_there(campaign: str, commit: str) -> None:
        raise MissingObjects(f"no bundle for commit {commit} in the object store")

    async def ship(commit: str, parent: str) -> str:
        raise AssertionError("nothing should be shipped")

    ctx = EditorContext(EditorRepo(tmp_path / "repo.git"), publisher, nothing_there, ship, "editor/test")
    proposal = ProposalCreated(
        campaign="c1", experiment_id="c1-0001", producer="test/1", base_commit="9" * 40, description="raise LR",
        edits=[Edit(search="LEARNING_RATE = 0.01", replace="LEARNING_RATE = 0.02")],
    )
    await on_proposal_created(proposal, ctx)
    [rejected] = publisher.of(ProposalRejected)
    assert "no bundle for commit" in rejected.reason and not publisher.of(CommitMade)
