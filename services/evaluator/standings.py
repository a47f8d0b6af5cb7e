"""What the evaluator knows of each campaign, folded from the stream: every run, the kept state, the verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.evaluator.bayes import PastGain
from services.evaluator.noise import CAUTION, cautious_sigma, pooled_noise
from services.evaluator.policy import Evidence, finite_val_bpb, memory_gb
from shared.events import CommitMade, Event, RunFinished, VerdictDecided

FAILED = {"crash": "crashed", "timeout": "timed out", "no-metric": "reported no finite val_bpb"}


@dataclass(frozen=True)
class RunFact:
    """What the rule needs of one run; the log tail and the rest of the event are not kept."""

    commit: str
    parent: str | None
    kept_state: bool
    baseline: bool
    status: str
    val_bpb: float | None
    memory_gb: float
    description: str
    why: str | None = None  # what the trainer said of a failed run (crash_reason), if anything

    @property
    def failure(self) -> str:
        """Why the run failed, in words: 'crashed: ModuleNotFoundError: ...', 'timed out after 600 s'."""
        what = FAILED.get(self.status, f"ended with status {self.status}")
        if not self.why:
            return what
        return self.why if self.why.startswith(what) else f"{what}: {self.why}"  # a timeout's reason already says so

    @classmethod
    def of(cls, run: RunFinished) -> RunFact:
        """The facts of a finished run."""
        value = finite_val_bpb(run.metrics)
        status = "no-metric" if run.status == "ok" and value is None else run.status  # ok without a number is a failure
        why = run.metrics.get("crash_reason")
        return cls(run.commit, run.parent, run.kept_state, run.baseline, status, value, memory_gb(run.metrics), run.description,
                   why if isinstance(why, str) else None)


@dataclass
class Campaign:
    """One campaign's runs and verdicts."""

    samples: dict[str, dict[str, float]] = field(default_factory=dict)  # commit -> run event id -> val_bpb
    runs: dict[str, dict[str, RunFact]] = field(default_factory=dict)  # experiment -> run event id -> run
    lines: dict[str, tuple[int, int]] = field(default_factory=dict)  # commit -> lines added, removed
    decided: set[str] = field(default_factory=set)
    head: str | None = None  # the kept state, after the latest verdict
    best_draw: float | None = None  # the greedy rule's bar
    gains: list[PastGain] = field(default_factory=list)  # every decided change's measured gain, in verdict order

    def sigma(self, confidence: float = CAUTION) -> float | None:
        """The noise the rule assumes: the pooled σ̂ of every commit that ran more than once, at this confidence bound."""
        noise = pooled_noise(list(values.values()) for values in self.samples.values())
        return None if noise is None else cautious_sigma(*noise, confidence)

    def kept_values(self) -> tuple[float, ...]:
        """The kept state's successful runs."""
        return tuple(self.samples.get(self.head, {}).values()) if self.head else ()

    def candidate_of(self, experiment: str) -> RunFact | None:
        """The experiment's first run of its own commit (not a re-run of the kept state)."""
        return next((run for run in self.runs.get(experiment, {}).values() if not run.kept_state), None)

    def evidence(self, experiment: str) -> Evidence | None:
        """Everything the rule needs about an experiment whose change has run at least once."""
        first = self.candidate_of(experiment)
        if first is None:
            return None
        own = [run for run in self.runs[experiment].values() if run.commit == first.commit and not run.kept_state]
        values = tuple(run.val_bpb for run in own if run.status == "ok" and run.val_bpb is not None)
        failed = next((run for run in own if run.status != "ok"), None)
        crash = None if failed is None else failed.failure
        added, removed = self.lines.get(first.commit, (0, 0))
        return Evidence(
            candidate=values, kept=() if first.baseline else self.kept_values(), baseline=first.baseline, crash=crash,
            peak_memory_gb=max((run.memory_gb for run in own), default=0.0), sigma_estimate=self.sigma(),
            best_draw=self.best_draw, lines_added=added, lines_removed=removed,
            confirmations=len(self.runs[experiment]) - 1,
        )


@dataclass
class Standings:
    """Every campaign the evaluator serves, rebuilt from commits, runs and verdicts."""

    campaigns: dict[str, Campaign] = field(default_factory=dict)

    def of(self, campaign: str) -> Campaign:
        """The campaign's standing, created empty on first sight."""
        return self.campaigns.setdefault(campaign, Campaign())

    def apply(self, event: Event) -> None:
        """Fold one event in; the same event twice changes nothing."""
        state = self.of(event.campaign)
        if isinstance(event, CommitMade):
            state.lines[event.commit] = (event.lines_added, event.lines_removed)
        elif isinstance(event, RunFinished):
            fact = RunFact.of(event)
            state.runs.setdefault(event.experiment_id, {})[event.event_id] = fact
            if fact.status == "ok" and fact.val_bpb is not None:
                state.samples.setdefault(event.commit, {})[event.event_id] = fact.val_bpb
        elif isinstance(event, VerdictDecided) and event.experiment_id not in state.decided:
            state.decided.add(event.experiment_id)
            if event.status == "keep" or state.head is None:
                state.head = event.head
            if event.best_after is not None:
                state.best_draw = event.best_after
            if (gain := measured_gain(event)) is not None:
                state.gains.append(gain)


def measured_gain(verdict: VerdictDecided) -> PastGain | None:
    """A decided change's gain over the mean it had to beat; None for the baseline, a crash or a greedy verdict."""
    if verdict.baseline or verdict.status not in ("keep", "discard") or verdict.keep_rule == "greedy":
        return None  # greedy's bar is a single best draw, not the kept state's mean
    if verdict.val_bpb is None or verdict.best_before is None or verdict.runs < 1 or verdict.kept_runs < 1:
        return None
    return PastGain(verdict.best_before - verdict.val_bpb, verdict.runs, verdict.kept_runs)
