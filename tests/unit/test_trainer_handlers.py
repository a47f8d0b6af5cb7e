"""Trainer handlers with a fake workspace, runner and publisher."""

from __future__ import annotations

from pathlib import Path

import asyncio
from datetime import UTC, datetime

from services.trainer.handlers import (
    TrainerContext, on_commit_made, on_proposal_rejected, on_verdict_decided, request_proposals, run_baseline,
)
from services.trainer.progress import CampaignProgress
from shared.ids import experiment_id
from services.trainer.runner import RunOutcome
from shared.events import (
    CampaignFinished, CampaignStarted, CommitMade, CommitStale, Event, ProposalRejected, ProposalRequested,
    RunFinished, RunProgress, RunStarted, VerdictDecided,
)
from tests.fakes import FakePublisher

CAMPAIGN = "c1"
BASE, FIRST, SECOND = "b" * 40, "1" * 40, "2" * 40
IDS = dict(campaign=CAMPAIGN, producer="test/1")
NOW = datetime(2025, 11, 27, tzinfo=UTC)



class FakeRoom:
    """A clean room that knows whether it was removed."""

    def __init__(self, commit: str) -> None:
        self.commit, self.removed = commit, False

    def remove(self) -> None:
        self.removed = True


class FakeWorkspace:
    """A branch tip, the checkouts and the rooms built, kept in memory."""

    def __init__(self, head: str) -> None:
        self.tip = head
        self.calls: list[tuple] = []
        self.rooms: list[FakeRoom] = []
        self.path = Path("/nonexistent-workspace")

    def head(self) -> str:
        return self.tip

    def build_room(self, commit: str) -> FakeRoom:
        self.calls.append(("build_room", commit))
        self.rooms.append(FakeRoom(commit))
        return self.rooms[-1]

    def forget(self, commit: str) -> None:
        self.calls.append(("forget", commit))

    def check_out(self, commit: str, room: FakeRoom | None = None) -> None:
        self.calls.append(("check_out", commit) if room is None else ("check_out", commit, "prepared room"))

    def advance(self, commit: str) -> None:
        self.calls.append(("advance", commit))
        self.tip = commit

    def reset_to(self, commit: str, discarded: str | None = None) -> None:
        self.calls.append(("reset_to", commit, discarded))
        self.tip = commit

    def refusal(self, commit: str, parent: str) -> str | None:
        return self.refused.get(commit) if hasattr(self, "refused") else None


class FakeRunner:
    """Returns a prepared outcome after reporting one progress step."""

    def __init__(self, status: str = "ok", val_bpb: float = 0.95) -> None:
        self.outcome = RunOutcome(status, 0 if status == "ok" else 1, {"val_bpb": val_bpb}, "log tail", NOW, NOW)
        self.runs = 0

    async def __call__(self, on_progress=None, **labels) -> RunOutcome:
        self.runs += 1
        self.labels = labels
        if on_progress:
            await on_progress(5, 50.0, 2.5)
        return self.outcome


class FakeObjects:
    """Records the commits the trainer asked to import."""

    def __init__(self) -> None:
        self.ensured: list[str] = []

    async def __call__(self, commit: str) -> None:
        self.ensured.append(commit)


def baseline_started() -> CampaignStarted:
    return CampaignStarted(**IDS, experiment_id=experiment_id(CAMPAIGN, 0), branch="autoresearch/c1",
                           base_commit=BASE, bundle="campaigns/c1/base.bundle", lookahead=1)


def make_context(lookahead: int = 1, limit: int | None = None) -> TrainerContext:
    progress = CampaignProgress(CAMPAIGN, lookahead=lookahead, limit=limit)
    progress.apply(baseline_started())
    ctx = TrainerContext(workspace=FakeWorkspace(BASE), progress=progress, publish=FakePublisher(), run=FakeRunner(),
                         ensure_commit=FakeObjects(), command="python train.py", producer="trainer/test")
    ctx.idle.set()
    return ctx


def commit_made(sequence: int, commit: str, parent: str) -> CommitMade:
    return CommitMade(**IDS, experiment_id=experiment_id(CAMPAIGN, sequence), commit=commit, parent=parent,
                      message="experiment: x", description="x", diff="", lines_added=1, lines_removed=1,
                      bundle=f"commits/{commit}.bundle")


def verdict(sequence: int, commit: str, status: str, head: str) -> VerdictDecided:
    return VerdictDecided(**IDS, experiment_id=experiment_id(CAMPAIGN, sequence), commit=commit, status=status,
                          head=head, baseline=sequence == 0)


async def after_baseline(ctx: TrainerContext) -> None:
    """Run the baseline, keep it, and clear the publisher."""
    await run_baseline(ctx)
    await on_verdict_decided(verdict(0, BASE, "keep", BASE), ctx)
    ctx.publish.events.clear()


async def test_baseline_runs_the_base_commit_without_a_parent():
    ctx = make_context()
    await run_baseline(ctx)
    started, progress, finished = ctx.publish.events
    assert isinstance(started, RunStarted) and isinstance(progress, RunProgress) and isinstance(finished, RunFinished)
    assert (finished.commit, finished.parent, finished.baseline, finished.description) == (BASE, None, True, "baseline")
    assert ctx.workspace.calls == [("check_out", BASE)]
    await run_baseline(ctx)
    assert ctx.run.runs == 1  # a baseline that has run is not run again


async def test_commit_whose_objects_are_missing_ends_as_a_crash_instead_of_holding_its_slot():
    from shared.gitobjects import MissingObjects

    ctx = make_context()
    await after_baseline(ctx)

    async def missing(commit: str) -> None:
        raise MissingObjects(f"no bundle for {commit[:7]}")

    ctx.ensure_commit = missing
    await on_commit_made(commit_made(1, FIRST, BASE), ctx)
    [finished] = ctx.publish.events
    assert isinstance(finished, RunFinished) and (finished.status, finished.commit, finished.parent) == ("crash", FIRST, BASE)
    assert "could not be fetched" in finished.log_tail and ctx.run.runs == 1  # the baseline only
    assert ctx.progress.awaiting_verdict == finished.experiment_id  # its verdict will free the slot


async def test_commit_on_the_head_is_run_and_reported():
    ctx = make_context()
    await after_baseline(ctx)
    await on_commit_made(commit_made(1, FIRST, BASE), ctx)
    assert ctx.ensure_commit.ensured == [FIRST]
    assert ("check_out", FIRST, "prepared room") in ctx.workspace.calls
    assert [type(e) for e in ctx.publish.events] == [RunStarted, RunProgress, RunFinished]
    finished = ctx.publish.events[-1]
    assert (finished.commit, finished.parent, finished.status, finished.baseline) == (FIRST, BASE, "ok", False)
    assert finished.metrics == {"val_bpb": 0.95}
    assert finished.environment["command"] == "python train.py"
    assert ctx.progress.awaiting_verdict == experiment_id(CAMPAIGN, 1)
    assert not ctx.idle.is_set()


async def test_the_runner_is_told_which_experiment_and_commit_it_runs_so_it_can_record_them():
    ctx = make_context()
    await after_baseline(ctx)
    await on_commit_made(commit_made(1, FIRST, BASE), ctx)
    assert ctx.run.labels == {"experiment_id": experiment_id(CAMPAIGN, 1), "commit": FIRST}


async def test_commit_on_an_old_head_is_sent_back_as_stale_and_not_run():
    ctx = make_context()
    await after_baseline(ctx)
    ctx.workspace.tip = SECOND  # another experiment was kept meanwhile
    await on_commit_made(commit_made(1, FIRST, BASE), ctx)
    assert ctx.run.runs == 1  # only the baseline
    assert ctx.ensure_commit.ensured == []
    [stale] = ctx.publish.events
    assert isinstance(stale, CommitStale)
    assert (stale.commit, stale.head, stale.experiment_id) == (FIRST, SECOND, "c1-0001")


async def test_redelivered_commit_that_already_ran_runs_nothing():
    ctx = make_context()
    await after_baseline(ctx)
    await on_commit_made(commit_made(1, FIRST, BASE), ctx)
    await on_commit_made(commit_made(1, FIRST, BASE), ctx)
    assert ctx.run.runs == 2  # baseline and one run
    assert len(ctx.publish.of(RunFinished)) == 1


async def test_commit_of_a_decided_experiment_runs_nothing():
    ctx = make_context()
    await after_baseline(ctx)
    await on_commit_made(commit_made(1, FIRST, BASE), ctx)
    await on_verdict_decided(verdict(1, FIRST, "discard", BASE), ctx)
    ctx.publish.events.clear()
    await on_commit_made(commit_made(1, SECOND, BASE), ctx)  # a rebased twin after the verdict
    assert ctx.publish.events == []


async def test_commit_of_another_campaign_is_ignored():
    ctx = make_context()
    await after_baseline(ctx)
    other = CommitMade(**{**IDS, "campaign": "c2"}, experiment_id="c2-0001", commit=FIRST, parent=BASE, message="m",
                       description="d", diff="", lines_added=0, lines_removed=0, bundle="b")
    await on_commit_made(other, ctx)
    assert ctx.publish.events == []


async def test_commit_waits_for_the_verdict_on_the_previous_run_then_is_stale_after_a_keep():
    ctx = make_context()
    await after_baseline(ctx)
    await on_commit_made(commit_made(1, FIRST, BASE), ctx)
    waiting = asyncio.create_task(on_commit_made(commit_made(2, SECOND, BASE), ctx))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    await on_verdict_decided(verdict(1, FIRST, "keep", FIRST), ctx)
    await asyncio.wait_for(waiting, 1)
    [stale] = ctx.publish.of(CommitStale)
    assert (stale.commit, stale.head) == (SECOND, FIRST)


async def test_keep_advances_the_branch_and_requests_tickets_from_the_new_head():
    ctx = make_context(lookahead=1)
    await run_baseline(ctx)
    await on_verdict_decided(verdict(0, BASE, "keep", BASE), ctx)
    assert [t.sequence for t in ctx.publish.of(ProposalRequested)] == [1, 2]
    await on_commit_made(commit_made(1, FIRST, BASE), ctx)
    ctx.publish.events.clear()
    await on_verdict_decided(verdict(1, FIRST, "keep", FIRST), ctx)
    assert ("advance", FIRST) in ctx.workspace.calls
    [ticket] = ctx.publish.events
    assert isinstance(ticket, ProposalRequested)
    assert (ticket.sequence, ticket.base_commit, ticket.experiment_id) == (3, FIRST, "c1-0003")
    assert ctx.idle.is_set()


async def test_discard_resets_branch_to_previous_head_and_keeps_the_discarded_commit():
    ctx = make_context(lookahead=0)
    await after_baseline(ctx)
    await on_commit_made(commit_made(1, FIRST, BASE), ctx)
    ctx.publish.events.clear()
    await on_verdict_decided(verdict(1, FIRST, "discard", BASE), ctx)
    assert ctx.workspace.calls[-1] == ("reset_to", BASE, FIRST)
    assert [(t.sequence, t.base_commit) for t in ctx.publish.of(ProposalRequested)] == [(2, BASE)]


async def test_crashed_baseline_resets_without_a_discarded_commit():
    ctx = make_context()
    await run_baseline(ctx)
    await on_verdict_decided(verdict(0, BASE, "crash", BASE), ctx)
    assert ctx.workspace.calls[-1] == ("reset_to", BASE, None)


async def test_same_verdict_twice_is_applied_once():
    ctx = make_context(lookahead=0)
    await after_baseline(ctx)
    await on_commit_made(commit_made(1, FIRST, BASE), ctx)
    await on_verdict_decided(verdict(1, FIRST, "keep", FIRST), ctx)
    calls, events = list(ctx.workspace.calls), list(ctx.publish.events)
    await on_verdict_decided(verdict(1, FIRST, "keep", FIRST), ctx)
    assert ctx.workspace.calls == calls
    assert ctx.publish.events == events


async def test_rejection_requests_a_replacement_ticket():
    ctx = make_context(lookahead=0)
    await after_baseline(ctx)
    await request_proposals(ctx)
    assert ctx.publish.events == []  # the one slot is taken by ticket 1
    await on_proposal_rejected(ProposalRejected(**IDS, experiment_id="c1-0001", reason="bad"), ctx)
    assert [t.sequence for t in ctx.publish.of(ProposalRequested)] == [2]


async def test_campaign_finished_is_published_once_the_limit_is_reached():
    ctx = make_context(lookahead=1, limit=2)
    await after_baseline(ctx)
    await on_commit_made(commit_made(1, FIRST, BASE), ctx)
    await on_verdict_decided(verdict(1, FIRST, "keep", FIRST), ctx)
    assert ctx.publish.of(CampaignFinished) == []
    await on_commit_made(commit_made(2, SECOND, FIRST), ctx)
    await on_verdict_decided(verdict(2, SECOND, "discard", FIRST), ctx)
    [finished] = ctx.publish.of(CampaignFinished)
    assert (finished.experiments, finished.head) == (2, FIRST)
    assert [t.sequence for t in ctx.publish.of(ProposalRequested)] == []  # both tickets were taken earlier
    await request_proposals(ctx)
    assert len(ctx.publish.of(CampaignFinished)) == 1


async def test_verdict_that_arrives_before_the_run_is_recorded_leaves_the_trainer_idle():
    ctx = make_context()
    await after_baseline(ctx)
    publish = ctx.publish

    async def publish_and_judge(event: Event) -> None:  # the evaluator answers while publish is still awaited
        await publish(event)
        if isinstance(event, RunFinished):
            await on_verdict_decided(verdict(1, FIRST, "discard", BASE), ctx)

    ctx.publish = publish_and_judge
    await on_commit_made(commit_made(1, FIRST, BASE), ctx)
    assert ctx.progress.awaiting_verdict is None
    assert ctx.idle.is_set()
