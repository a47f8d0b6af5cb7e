"""Prometheus metrics in the text exposition format (0.0.4), written by hand from the campaigns' views."""

from __future__ import annotations

from services.ledger.experiments import CampaignView
from services.ledger.pages import current_summary
from services.ledger.projection import Projection
from services.ledger.store import EventStore

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# training runs last minutes (the trainer kills them at 10 by default)
DURATION_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0)


def label(value: str) -> str:
    """A label value escaped as the exposition format asks."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def number(value: float) -> str:
    """A sample value: integers without a fraction, floats in full."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Exposition:
    """Metric families, each with HELP and TYPE once, then its samples."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        """Open a metric family."""
        self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]

    def sample(self, name: str, value: float, **labels: str) -> None:
        """One sample of the family opened last."""
        text = ",".join(f'{key}="{label(val)}"' for key, val in labels.items())
        self.lines.append(f"{name}{{{text}}} {number(value)}" if text else f"{name} {number(value)}")

    def text(self) -> str:
        """The whole exposition, newline terminated."""
        return "\n".join(self.lines) + "\n"


def render_metrics(store: EventStore, projection: Projection, sse_clients: int = 0) -> str:
    """Every campaign's figures as Prometheus metrics."""
    with projection.reading():
        return _exposition(store, list(projection.views.values()), sse_clients)


def _exposition(store: EventStore, views: list[CampaignView], sse_clients: int) -> str:
    out = Exposition()
    summaries = [(view, current_summary(view)) for view in views]
    out.family("autoresearch_experiments", "gauge", "Experiments by outcome (keep, discard, crash, rejected).")
    for view, summary in summaries:
        for status, count in summary.counts.model_dump().items():
            out.sample("autoresearch_experiments", count, campaign=view.campaign, status=status)
    gauges = (
        ("autoresearch_best_val_bpb", "Best val_bpb kept so far.", lambda summary: summary.best_val_bpb),
        ("autoresearch_baseline_val_bpb", "val_bpb of the campaign's unchanged baseline.",
         lambda summary: summary.baseline_val_bpb),
        ("autoresearch_noise_sigma", "The campaign's noise estimate (sigma) used by its latest verdict.",
         lambda summary: summary.sigma),
        ("autoresearch_confirmation_runs", "Runs beyond each experiment's first (confirmation runs).",
         lambda summary: summary.confirmation_runs),
    )
    for name, help_text, value_of in gauges:
        out.family(name, "gauge", help_text)
        for view, summary in summaries:
            if (value := value_of(summary)) is not None:
                out.sample(name, value, campaign=view.campaign)
    out.family("autoresearch_run_duration_seconds", "histogram", "Wall-clock duration of finished training runs.")
    for view in views:
        durations = [
            run.duration_seconds for row in view.experiments for run in row.all_runs if run.duration_seconds is not None
        ]
        for bound in DURATION_BUCKETS:
            within = sum(d <= bound for d in durations)
            out.sample("autoresearch_run_duration_seconds_bucket", within, campaign=view.campaign, le=number(bound))
        out.sample("autoresearch_run_duration_seconds_bucket", len(durations), campaign=view.campaign, le="+Inf")
        out.sample("autoresearch_run_duration_seconds_sum", sum(durations), campaign=view.campaign)
        out.sample("autoresearch_run_duration_seconds_count", len(durations), campaign=view.campaign)
    out.family("autoresearch_trainer_idle_seconds", "gauge", "Seconds the trainer sat idle between runs (rule in docs/api.md).")
    for view, summary in summaries:
        out.sample("autoresearch_trainer_idle_seconds", summary.idle_seconds, campaign=view.campaign)
    out.family("autoresearch_trainer_busy_seconds", "gauge", "Seconds the trainer spent running training.")
    for view, summary in summaries:
        out.sample("autoresearch_trainer_busy_seconds", summary.training_seconds, campaign=view.campaign)
    out.family("autoresearch_run_in_progress", "gauge", "1 while a training run is going.")
    for view, summary in summaries:
        out.sample("autoresearch_run_in_progress", 1 if summary.running else 0, campaign=view.campaign)
    out.family("autoresearch_ledger_events", "gauge", "Events stored by the ledger.")
    out.sample("autoresearch_ledger_events", store.count())
    out.family("autoresearch_ledger_stream_clients", "gauge", "Readers connected to the live event stream.")
    out.sample("autoresearch_ledger_stream_clients", sse_clients)
    return out.text()
