"""Every run of one experiment: its first run, confirmation runs of its change, re-runs of the kept state.

A run of the kept state is listed with the others but never becomes the experiment's commit or run: the
experiment stays the change it tried, and its val_bpb is the verdict's mean.
"""

from __future__ import annotations

import math

from services.ledger.schemas import DECIDED, ConfirmationOut, ExperimentDetail, RunOut
from shared.events import ConfirmationRequested, RunFinished, RunStarted


def apply_confirmation(row: ExperimentDetail, event: ConfirmationRequested) -> None:
    """The evaluator asked for one more run: remember it until that run finishes or a verdict comes."""
    row.confirmation = ConfirmationOut(
        commit=event.commit, repeat=event.repeat, kept_state=event.kept_state, baseline=event.baseline,
        description=event.description or ("baseline" if event.baseline else ""),
        sigma=event.sigma, reason=event.reason, requested_at=event.occurred_at,
    )


def apply_run_started(row: ExperimentDetail, event: RunStarted) -> None:
    """A run began: a new entry, or the same entry again when the trainer restarted a run it lost."""
    asked = row.confirmation if row.confirmation is not None and row.confirmation.commit == event.commit else None
    earlier = next((run for run in reversed(row.all_runs) if run.commit == event.commit), None)
    if earlier is not None and earlier.status == "running":  # a restarted run counts once, from its last start
        row.all_runs.remove(earlier)
    elif earlier is not None and asked is None:  # the commit ran already and nobody asked again: nothing new to list
        return
    # the experiment's own commit is the one its commit.made named; any other run in it measures the kept state
    other = row.commit_made is not None and event.commit != row.commit_made.commit
    run = RunOut(
        commit=event.commit, status="running", command=event.command, started_at=event.occurred_at,
        repeat=asked.repeat if asked else 0, kept_state=asked.kept_state if asked else other,
    )
    row.all_runs.append(run)
    if not run.kept_state:
        row.commit, row.run, row.description = event.commit, run, row.description or event.description
    row.status = row.status if row.status in DECIDED else "running"
    count_runs(row)


def apply_run_finished(row: ExperimentDetail, event: RunFinished) -> None:
    """A finished run: metrics, log tail, environment, timing, in place of its started entry."""
    ours = [run for run in reversed(row.all_runs) if run.commit == event.commit]
    entry = next((run for run in ours if (run.repeat, run.kept_state) == (event.repeat, event.kept_state)), None)
    entry = entry or next((run for run in ours if run.status == "running"), None)
    command = entry.command if entry is not None else event.environment.get("command", "")
    value, peak = event.metrics.get("val_bpb"), event.metrics.get("peak_vram_mb")
    run = RunOut(
        commit=event.commit, status=event.status, repeat=event.repeat, kept_state=event.kept_state,
        val_bpb=value if isinstance(value, float) and math.isfinite(value) else None,
        memory_gb=round(peak / 1024, 1) if isinstance(peak, float) and math.isfinite(peak) else None,
        command=command, metrics=event.metrics, log_tail=event.log_tail, exit_code=event.exit_code,
        started_at=event.started_at, finished_at=event.finished_at,
        duration_seconds=(event.finished_at - event.started_at).total_seconds(), environment=event.environment,
        discard_ref=event.discard_ref,
    )
    if entry is None:
        row.all_runs.append(run)
    else:
        row.all_runs[row.all_runs.index(entry)] = run
    if not event.kept_state:
        row.commit, row.run, row.description = event.commit, run, row.description or event.description
    if row.confirmation is not None and row.confirmation.commit == event.commit:
        row.confirmation = None
    row.status = row.status if row.status in DECIDED else "running"
    count_runs(row)


def drop_unfinished_runs(row: ExperimentDetail) -> None:
    """At the verdict, forget runs that never finished (their trainer died): none of them will."""
    row.all_runs[:] = [run for run in row.all_runs if run.status != "running"]
    row.run = next((run for run in reversed(row.all_runs) if not run.kept_state), None)
    count_runs(row)


def count_runs(row: ExperimentDetail) -> None:
    """The row's run count, confirmations and times, from its runs."""
    runs = row.all_runs
    row.runs = len(runs)
    row.confirmations = sum(run.repeat > 0 or run.kept_state for run in runs)
    finished = [run for run in runs if run.finished_at is not None]
    row.started_at = min((run.started_at for run in runs), default=None)
    row.finished_at = None if len(finished) < len(runs) else max((run.finished_at for run in finished), default=None)
    row.duration_seconds = sum(run.duration_seconds or 0.0 for run in finished) if finished else None
