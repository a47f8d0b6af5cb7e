"""A proposer replays the campaigns once, then folds in only the events that came since."""

from __future__ import annotations

from datetime import UTC, datetime

from services.proposer.follow import CampaignFollower
from shared.bus import Bus
from shared.edits import Edit
from shared.ids import run_finished_id
from shared.events import ConfirmationRequested, ProposalCreated, RunFinished, RunProgress, VerdictDecided
from shared.replay import StreamCursor

HEAD = "a" * 40
CHANGE = "c" * 40


def proposal(campaign: str, number: int) -> ProposalCreated:
    return ProposalCreated(campaign=campaign, experiment_id=f"{campaign}-{number:04d}", producer="test/1",
                           base_commit=HEAD, description=f"idea {number}", edits=[Edit(search="A", replace="B")])


def verdict(campaign: str, number: int, status: str = "discard") -> VerdictDecided:
    return VerdictDecided(campaign=campaign, experiment_id=f"{campaign}-{number:04d}", producer="test/1",
                          commit=f"{number:040d}", status=status, val_bpb=1.0 - number / 100, head=HEAD)


class CountingCursor(StreamCursor):
    """A StreamCursor that counts the events each call brings back."""

    fetched: list[int]

    async def fetch_new(self):
        events = await super().fetch_new()
        self.fetched = [*getattr(self, "fetched", []), len(events)]
        return events


async def test_each_catch_up_reads_only_events_published_since_the_last(bus: Bus):
    follower = CampaignFollower(bus)
    follower.cursors = [CountingCursor(bus, cursor_kinds) for cursor_kinds in ([ProposalCreated, VerdictDecided],)]
    for number in range(1, 21):
        await bus.publish(proposal("c1", number))
        await bus.publish(verdict("c1", number))
    records = await follower.records("c1")
    assert [r.status for r in records.records()] == ["discard"] * 20
    await bus.publish(proposal("c1", 21))
    await bus.publish(verdict("c2", 1))
    records = await follower.records("c1")
    assert records.get("c1-0021").proposed and records.get("c1-0021").status == "pending"
    assert follower.cursors[0].fetched == [40, 2]  # the second ticket did not replay the first forty events
    assert [r.experiment_id for r in (await follower.records("c2")).records()] == []  # c2's verdict has no proposal


async def test_loss_curves_come_from_the_progress_stream_only_when_asked(bus: Bus):
    await bus.publish(proposal("c1", 1))
    for step in (1, 2, 3):
        await bus.publish(RunProgress(campaign="c1", experiment_id="c1-0001", producer="test/1", commit=HEAD,
                                      step=step, loss=3.0 - step))
    plain, curious = CampaignFollower(bus), CampaignFollower(bus, loss_curves=True)
    assert (await plain.records("c1")).get("c1-0001").loss_curve == []
    assert (await curious.records("c1")).get("c1-0001").loss_curve == [(1, 2.0), (2, 1.0), (3, 0.0)]


def run(commit: str, val_bpb: float, repeat: int = 0, kept_state: bool = False) -> RunFinished:
    now = datetime.now(UTC)
    return RunFinished(campaign="c1", experiment_id="c1-0001", producer="test/1", commit=commit, status="ok",
                       metrics={"val_bpb": val_bpb}, log_tail=f"{commit[:7]} #{repeat}", started_at=now, finished_at=now,
                       repeat=repeat, kept_state=kept_state, event_id=run_finished_id("c1-0001", commit, repeat))


async def test_confirmation_runs_and_a_kept_state_re_measure_leave_one_row_with_the_verdicts_mean(bus: Bus):
    ids = dict(campaign="c1", experiment_id="c1-0001", producer="test/1")
    await bus.publish(proposal("c1", 1))
    await bus.publish(run(CHANGE, 0.990))
    for commit, kept_state in ((CHANGE, False), (HEAD, True)):
        await bus.publish(ConfirmationRequested(**ids, commit=commit, repeat=1, kept_state=kept_state, reason="close"))
        await bus.publish(run(commit, 0.986 if commit == CHANGE else 1.002, repeat=1, kept_state=kept_state))
    await bus.publish(VerdictDecided(**ids, commit=CHANGE, status="keep", val_bpb=0.988, head=CHANGE, runs=2, kept_runs=2,
                                     confirmations=2, sigma=0.004, clear_gain=0.014, best_after=0.988))
    records = (await CampaignFollower(bus).records("c1")).records()
    assert [(r.experiment_id, r.status, r.val_bpb, r.commit, r.log_tail) for r in records] == [
        ("c1-0001", "keep", 0.988, CHANGE, "ccccccc #1"),  # the kept state's re-measure ran last; it is not the result
    ]
    assert (records[0].runs, records[0].sigma, records[0].clear_gain) == (2, 0.004, 0.014)
