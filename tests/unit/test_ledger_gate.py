"""The ledger records a campaign only between its start and its finish: ghosts and late forgeries are set aside."""

from __future__ import annotations

from pathlib import Path

from services.ledger.handlers import LedgerContext, on_event
from services.ledger.store import EventStore
from shared.events import CampaignFinished, CampaignLimited, CampaignStarted, VerdictDecided

HEAD = "b" * 40


def started(campaign: str) -> CampaignStarted:
    return CampaignStarted(campaign=campaign, experiment_id=f"{campaign}-0000", producer="trainer/1",
                           branch=f"autoresearch/{campaign}", base_commit=HEAD, bundle="b", lookahead=1)


def verdict(campaign: str, number: int) -> VerdictDecided:
    return VerdictDecided(campaign=campaign, experiment_id=f"{campaign}-{number:04d}", producer="evaluator/1",
                          commit=f"{number:040d}", status="keep", val_bpb=1.0, head=HEAD, description=f"experiment {number}")


def finished(campaign: str) -> CampaignFinished:
    return CampaignFinished(campaign=campaign, experiment_id=f"{campaign}-0001", producer="trainer/1", experiments=1, head=HEAD)


async def record(tmp_path: Path, *events) -> LedgerContext:
    ctx = LedgerContext(EventStore(tmp_path / "events.sqlite3"), tmp_path / "results", {})
    for event in events:
        await on_event(event, ctx)
    return ctx


async def test_events_of_a_campaign_that_never_started_make_no_campaign(tmp_path: Path):
    ctx = await record(tmp_path, started("real"), verdict("ghost", 1), verdict("real", 1))
    assert ctx.store.campaigns() == ["real"]
    assert not ctx.results_path("ghost").exists()


async def test_rows_arriving_after_a_campaign_finished_are_set_aside(tmp_path: Path):
    ctx = await record(tmp_path, started("c1"), verdict("c1", 1), finished("c1"), verdict("c1", 2), verdict("c1", 3))
    assert [v.experiment_id for v in ctx.store.verdicts("c1")] == ["c1-0001"]
    assert len(ctx.results_path("c1").read_text().splitlines()) == 2


async def test_a_resumed_campaign_records_again_and_the_gate_survives_a_restart(tmp_path: Path):
    ctx = await record(tmp_path, started("c1"), verdict("c1", 1), finished("c1"))
    ctx.store.close()
    limited = CampaignLimited(campaign="c1", experiment_id="c1-0001", producer="trainer/1", limit=3, session="s2")
    again = await record(tmp_path, verdict("c1", 2), limited, verdict("c1", 3))  # a new ledger, the same store
    assert [v.experiment_id for v in again.store.verdicts("c1")] == ["c1-0001", "c1-0003"]
