"""Evaluator handlers: after each finished run, a verdict or a request for one more run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from services.evaluator.noise import mean
from services.evaluator.policy import Decision, Evidence, KeepRule, decide
from services.evaluator.standings import Campaign, RunFact, Standings
from shared.events import ConfirmationRequested, Event, RunFinished, VerdictDecided
from shared.ids import confirmation_id, verdict_id

log = structlog.get_logger("evaluator")


@dataclass
class Judge:
    """The rule, what is known, and where decisions go."""

    rule: KeepRule
    standings: Standings
    publish: Callable[[Event], Awaitable[None]]
    producer: str


async def on_commit_made(event: Event, judge: Judge) -> None:
    """Remember how many lines a commit adds and removes: the simplicity rule needs them."""
    judge.standings.apply(event)


async def on_run_finished(event: RunFinished, judge: Judge) -> None:
    """Fold the run in, then publish the experiment's verdict or ask for one more run."""
    state = judge.standings.of(event.campaign)
    if event.experiment_id in state.decided:
        return
    judge.standings.apply(event)
    first, evidence = state.candidate_of(event.experiment_id), state.evidence(event.experiment_id)
    if first is None or evidence is None:  # a re-run of the kept state before any run of the change: nothing to judge
        return
    decision = decide(evidence, judge.rule)
    if decision.status == "confirm":
        await _confirm(event, decision, first, state, judge)
        return
    await _verdict(event, decision, first, evidence, state, judge)


async def _confirm(event: RunFinished, decision: Decision, first: RunFact, state: Campaign, judge: Judge) -> None:
    commit = state.head if decision.confirm_kept and state.head else first.commit
    # the change's first run is repeat 0; the kept state's re-runs in this experiment count from 1
    repeat = sum(1 for run in state.runs[event.experiment_id].values() if run.commit == commit) + decision.confirm_kept
    request = ConfirmationRequested(
        event_id=confirmation_id(event.experiment_id, commit, repeat), campaign=event.campaign,
        experiment_id=event.experiment_id, producer=judge.producer, commit=commit, repeat=repeat,
        kept_state=decision.confirm_kept, baseline=first.baseline, sigma=decision.sigma, reason=decision.reason,
        description="kept state" if decision.confirm_kept else first.description,
    )
    await judge.publish(request)
    log.info("confirmation requested", experiment_id=event.experiment_id, commit=commit[:7], repeat=repeat,
             kept_state=decision.confirm_kept, reason=decision.reason)


async def _verdict(
    event: RunFinished, decision: Decision, first: RunFact, evidence: Evidence, state: Campaign, judge: Judge,
) -> None:
    parent = state.head or first.parent or first.commit
    keep = decision.status == "keep"
    kept_before = evidence.kept
    best_before = _bar(state, judge.rule, kept_before)
    after_values = evidence.candidate if keep else kept_before
    best_after = decision.val_bpb if keep and judge.rule.name == "greedy" else _bar(state, judge.rule, after_values)
    if first.baseline and decision.status == "crash":
        best_after = None
    test = judge.rule.test
    sigma = decision.sigma
    verdict = VerdictDecided(
        event_id=verdict_id(event.experiment_id, first.commit), campaign=event.campaign, experiment_id=event.experiment_id,
        producer=judge.producer, commit=first.commit, status=decision.status,
        val_bpb=None if decision.status == "crash" else decision.val_bpb,
        memory_gb=0.0 if decision.status == "crash" else evidence.peak_memory_gb,
        best_before=best_before, best_after=best_after, head=first.commit if keep else parent, reason=decision.reason,
        description=first.description, baseline=first.baseline, sigma=sigma, runs=len(evidence.candidate),
        kept_runs=len(kept_before), confirmations=evidence.confirmations, keep_rule=judge.rule.name,
        clear_gain=None if sigma is None or judge.rule.name != "sprt" else test.clear_gain(sigma, len(after_values)),
    )
    await judge.publish(verdict)
    judge.standings.apply(verdict)
    log.info("verdict", experiment_id=event.experiment_id, status=decision.status, val_bpb=decision.val_bpb,
             runs=verdict.runs, confirmations=verdict.confirmations, sigma=sigma, best=best_after)


def _bar(state: Campaign, rule: KeepRule, values: tuple[float, ...]) -> float | None:
    """What the next change must beat: the kept state's mean (greedy: the best single draw so far)."""
    if rule.name == "greedy":
        return state.best_draw
    return mean(values) if values else None
