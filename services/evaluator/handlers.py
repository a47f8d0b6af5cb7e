"""Evaluator handler: one verdict per finished run, the best so far per campaign."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from services.evaluator.policy import decide_verdict
from shared.events import Event, RunFinished, VerdictDecided
from shared.ids import verdict_id

log = structlog.get_logger("evaluator")


@dataclass
class Standings:
    """Best val_bpb per campaign and the experiments already decided, rebuilt from verdicts."""

    best: dict[str, float] = field(default_factory=dict)
    decided: set[tuple[str, str]] = field(default_factory=set)

    def apply(self, verdict: VerdictDecided) -> None:
        """Fold a verdict in; the same verdict twice changes nothing."""
        self.decided.add((verdict.campaign, verdict.experiment_id))
        if verdict.best_after is not None:
            self.best[verdict.campaign] = verdict.best_after


async def on_run_finished(event: RunFinished, standings: Standings, publish: Callable[[Event], Awaitable[None]], producer: str) -> None:
    """Decide keep, discard or crash for a run and publish the verdict."""
    if (event.campaign, event.experiment_id) in standings.decided:
        return
    best = standings.best.get(event.campaign)
    decision = decide_verdict(event, best)
    verdict = VerdictDecided(
        event_id=verdict_id(event.experiment_id, event.commit), campaign=event.campaign,
        experiment_id=event.experiment_id, producer=producer, commit=event.commit, status=decision.status,
        val_bpb=decision.val_bpb, memory_gb=decision.memory_gb, best_before=best, best_after=decision.best_after,
        head=decision.head, reason=decision.reason, description=event.description, baseline=event.baseline,
    )
    await publish(verdict)
    standings.apply(verdict)
    log.info("verdict", experiment_id=event.experiment_id, status=decision.status, val_bpb=decision.val_bpb, best=decision.best_after)
