"""A campaign at a glance: best against baseline, outcome counts, wall time and trainer idle time."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.ledger.experiments import CampaignView
from services.ledger.schemas import ConfirmingOut, ExperimentDetail, ProgressPoint, RunningOut, StatusCounts, SummaryOut
from shared.events import utc_now

Interval = tuple[datetime, datetime | None]


def run_intervals(view: CampaignView) -> list[Interval]:
    """Each run's (start, end), confirmation runs included; end is None while the run is going.

    A restarted run counts once, as its last start (the experiments' fold keeps one entry per run).
    """
    runs = [(run.started_at, run.finished_at) for row in view.experiments for run in row.all_runs]
    return sorted(runs, key=lambda run: run[0])


def trainer_time(runs: Iterable[Interval], window_end: datetime) -> tuple[float, float]:
    """(training, idle) seconds from the first run's start to window_end.

    Training is the union of the runs (a run still going lasts until window_end);
    idle is the rest: every gap between one run's end and the next run's start,
    and the tail after the last run when none is going.
    """
    spans = sorted((start, min(end or window_end, window_end)) for start, end in runs)
    if not spans:
        return 0.0, 0.0
    training, covered_until = 0.0, spans[0][0]
    for start, end in spans:
        start = max(start, covered_until)
        if end > start:
            training += (end - start).total_seconds()
            covered_until = end
    window = max((window_end - spans[0][0]).total_seconds(), training)
    return training, window - training


def running_now(experiments: list[ExperimentDetail], now: datetime) -> RunningOut | None:
    """The experiment whose run has started and not finished, if any; a confirmation run says which run it is."""
    for row in reversed(experiments):
        for number, run in reversed(list(enumerate(row.all_runs, start=1))):
            if run.status != "running":
                continue
            progress = run.progress
            return RunningOut(
                experiment_id=row.experiment_id, commit=run.commit, description=row.description,
                started_at=run.started_at, elapsed_seconds=max((now - run.started_at).total_seconds(), 0.0),
                step=progress.step if progress else None, percent=progress.percent if progress else None,
                loss=progress.loss if progress else None, repeat=run.repeat, kept_state=run.kept_state, run_number=number,
            )
    return None


def confirming_now(experiments: list[ExperimentDetail]) -> ConfirmingOut | None:
    """The latest confirmation run asked for whose run has not finished."""
    pending = [(row.confirmation, row) for row in experiments if row.confirmation is not None]
    if not pending:
        return None
    asked, row = max(pending, key=lambda pair: pair[0].requested_at)
    going = bool(row.all_runs) and row.all_runs[-1].status == "running" and row.all_runs[-1].commit == asked.commit
    return ConfirmingOut(**asked.model_dump(), experiment_id=row.experiment_id, run_number=len(row.all_runs) + (not going))


def noise(view: CampaignView) -> dict[str, float | str | None]:
    """σ̂, the keep rule and the clear gain of the campaign's latest verdict."""
    latest = view.latest_verdict
    if latest is None:
        return {"sigma": None, "keep_rule": None, "clear_gain": None}
    return {"sigma": latest.sigma, "keep_rule": latest.keep_rule, "clear_gain": latest.clear_gain}


def summarize(view: CampaignView, now: datetime | None = None) -> SummaryOut:
    """The summary of one campaign; `now` only sets the running experiment's elapsed time."""
    experiments, decided = view.experiments, view.decided
    counts = StatusCounts(**{status: sum(row.status == status for row in experiments) for status in StatusCounts.model_fields})
    baseline = next((row for row in decided if row.verdict and row.verdict.baseline), decided[0] if decided else None)
    kept = [row for row in decided if row.status == "keep" and row.val_bpb is not None]
    best = min(kept, key=lambda row: row.val_bpb or 0.0) if kept else None
    times = [at for at in (view.first_at, view.last_at) if at is not None] + ([view.progress.occurred_at] if view.progress else [])
    runs = run_intervals(view)
    ends = [end for _, end in runs if end is not None]
    last = max(times + ends) if times else None
    training, idle = trainer_time(runs, last) if last else (0.0, 0.0)
    base_bpb = baseline.val_bpb if baseline else None
    after = [row.status for row in decided if row is not baseline]
    best_bpb = best.val_bpb if best else None
    running, confirming, finished = running_now(experiments, now or utc_now()), confirming_now(experiments), view.finished
    return SummaryOut(
        campaign=view.campaign, baseline_val_bpb=base_bpb, best_val_bpb=best_bpb,
        best_commit=best.commit if best else None, best_description=best.description if best else None,
        best_experiment_id=best.experiment_id if best else None,
        improvement_percent=(base_bpb - best_bpb) / base_bpb * 100 if base_bpb and best_bpb is not None else None,
        counts=counts, experiments_total=len(decided), running=running, confirming=None if finished else confirming,
        state="finished" if finished else "confirming" if confirming else "training" if running else "waiting",
        runs_total=sum(row.runs for row in experiments), confirmation_runs=sum(row.confirmations for row in experiments),
        finish_reason=finish_reason(view) if finished else None,
        started_at=min(times) if times else None, last_event_at=last, finished=finished,
        wall_seconds=(last - min(times)).total_seconds() if last else 0.0, training_seconds=training, idle_seconds=idle,
        idle_share=idle / (training + idle) if training + idle > 0 else None,
        keep_rate=sum(s == "keep" for s in after) / len(after) if after else None, trajectory=trajectory(after),
        **proposal_spending(view), **noise(view),
    )


def proposal_spending(view: CampaignView) -> dict[str, int | float | None]:
    """Tokens and cost the proposers recorded on the campaign's proposals."""
    return {
        "proposal_input_tokens": view.input_tokens, "proposal_output_tokens": view.output_tokens,
        "proposal_cost": round(view.cost, 6) if view.priced else None,
    }


RECENT, LONG = 5, 10


def trajectory(statuses: list[str]) -> str:
    """The campaign's direction from the statuses of its experiments after the baseline, oldest first.

    starting: nothing decided yet; improving: a keep among the last 5;
    stuck: the last 5 all crashed, or no keep among the last 10; plateauing: otherwise.
    """
    if not statuses:
        return "starting"
    recent, longer = statuses[-RECENT:], statuses[-LONG:]
    if "keep" in recent:
        return "improving"
    if (len(recent) == RECENT and all(s == "crash" for s in recent)) or (len(longer) == LONG and "keep" not in longer):
        return "stuck"
    return "plateauing"


def finish_reason(view: CampaignView) -> str | None:
    """Why the campaign's latest campaign.finished says it ended."""
    latest = view.latest_finish
    return (latest.reason or None) if latest else None


def progress_points(view: CampaignView) -> list[ProgressPoint]:
    """Every decided experiment in decision order, with the running best after it."""
    return [progress_point(row) for row in view.decided]


def progress_point(row: ExperimentDetail) -> ProgressPoint:
    """One decided experiment on the chart."""
    return ProgressPoint(
        number=row.number or 0, experiment_id=row.experiment_id, commit=row.commit or "", status=row.status,
        val_bpb=row.val_bpb, best=row.verdict.best_after if row.verdict else None, description=row.description,
        runs=row.verdict.runs if row.verdict else 1,
    )
