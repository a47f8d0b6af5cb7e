"""What the ledger's tests share: a made-up campaign (real event models, clock times chosen by the test) and a running ledger."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from services.ledger.main import LedgerSettings, serve
from services.trainer.workspace import discarded_ref
from shared.bus import Bus
from shared.embedded import free_port

from shared.events import (
    CampaignFinished, CampaignStarted, CommitMade, ConfirmationRequested, Edit, Event, ProposalCreated, ProposalRejected,
    RunFinished, RunProgress, RunStarted, VerdictDecided,
)

T0 = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)
ENVIRONMENT = {"host": "gpu-box-7", "platform": "Linux-6.8", "python": "3.11.9", "torch": "2.5.1", "command": "uv run train.py"}


def at(seconds: float) -> datetime:
    """A moment, seconds after the campaign's T0."""
    return T0 + timedelta(seconds=seconds)


def sha(label: str) -> str:
    """A stable fake full commit hash."""
    return hashlib.sha1(label.encode()).hexdigest()


def diff_for(description: str) -> str:
    """A unified diff that names the experiment, so a test can tell whose diff it sees."""
    return f"--- a/train.py\n+++ b/train.py\n@@ -1,1 +1,1 @@\n-LEARNING_RATE = 0.01\n+LEARNING_RATE = 0.02  # {description}\n"


@dataclass
class CampaignScript:
    """Writes the events one campaign's services would publish, in order.

    Verdicts follow the plain rule (keep the baseline and every mean below the best so far), worked out here
    so that the ledger's tests do not move with the evaluator's policy.
    """

    campaign: str = "nov27"
    events: list[Event] = field(default_factory=list)
    head: str = field(default_factory=lambda: sha("base"))
    best: float | None = None
    sequence: int = 0

    def _base(self, experiment_id: str, seconds: float) -> dict:
        return dict(campaign=self.campaign, experiment_id=experiment_id, producer="test/script", occurred_at=at(seconds))

    def start(self, seconds: float = 0.0) -> CampaignScript:
        """campaign.started."""
        self.events.append(CampaignStarted(**self._base(f"{self.campaign}-0000", seconds), branch=f"autoresearch/{self.campaign}",
                                           base_commit=self.head, bundle="base", lookahead=1))
        return self

    def baseline(self, val_bpb: float, start: float, end: float) -> CampaignScript:
        """The unchanged first run and its keep verdict."""
        experiment = f"{self.campaign}-0000"
        self._run(experiment, self.head, None, "baseline", val_bpb, start, end)
        return self

    def experiment(self, description: str, val_bpb: float | None, start: float, end: float, proposed: float | None = None) -> str:
        """Proposal, commit, run and verdict of one experiment; val_bpb None means the run crashed."""
        experiment = self._propose(description, start - 2 if proposed is None else proposed)
        commit = sha(f"{self.campaign}:{description}")
        self._commit(experiment, commit, description, (start - 1 if proposed is None else proposed + 1))
        self._run(experiment, commit, self.head, description, val_bpb, start, end)
        return experiment

    def rejected(self, description: str, seconds: float, reason: str = "search text not found") -> str:
        """A proposal the editor could not apply."""
        experiment = self._propose(description, seconds - 1)
        self.events.append(ProposalRejected(
            **self._base(experiment, seconds), description=description, reason=reason, base_commit=self.head,
        ))
        return experiment

    def running(self, description: str, start: float, step: int, percent: float, loss: float, progress_at: float) -> str:
        """An experiment whose run has started and reported one step line."""
        experiment = self._propose(description, start - 2)
        commit = sha(f"{self.campaign}:{description}")
        self._commit(experiment, commit, description, start - 1)
        self.events.append(RunStarted(**self._base(experiment, start), commit=commit, description=description, command="uv run train.py"))
        self.events.append(RunProgress(**self._base(experiment, progress_at), commit=commit, step=step, percent=percent, loss=loss))
        return experiment

    def finish(self, seconds: float) -> CampaignScript:
        """campaign.finished."""
        decided = sum(isinstance(e, VerdictDecided) and not e.baseline for e in self.events)
        self.events.append(CampaignFinished(**self._base(f"{self.campaign}-{self.sequence:04d}", seconds), experiments=decided,
                                            head=self.head, best_val_bpb=self.best))
        return self

    def _propose(self, description: str, seconds: float) -> str:
        self.sequence += 1
        experiment = f"{self.campaign}-{self.sequence:04d}"
        self.events.append(ProposalCreated(
            **self._base(experiment, seconds), base_commit=self.head, description=description, rationale=f"because {description}",
            expected_vram_impact="none", edits=[Edit(search="LEARNING_RATE = 0.01", replace="LEARNING_RATE = 0.02")],
            model="test-model", input_tokens=1200, output_tokens=300, latency_s=4.5,
        ))
        return experiment

    def _commit(self, experiment: str, commit: str, description: str, seconds: float) -> None:
        self.events.append(CommitMade(
            **self._base(experiment, seconds), commit=commit, parent=self.head, message=f"experiment: {description}",
            description=description, diff=diff_for(description), lines_added=1, lines_removed=1, bundle=f"bundle-{commit[:7]}",
        ))

    def confirmed(
        self, description: str, values: Sequence[float], start: float, kept: Sequence[float] = (), sigma: float = 0.004,
        run_seconds: float = 10.0,
    ) -> str:
        """An experiment whose change ran once per value (confirmation runs after the first) and the kept state
        once per kept value, each run asked for by a confirmation.requested; the verdict takes the change's mean."""
        experiment = self._propose(description, start - 2)
        commit = sha(f"{self.campaign}:{description}")
        self._commit(experiment, commit, description, start - 1)
        self._runs(experiment, commit, self.head, description, values, start, kept, sigma, run_seconds)
        return experiment

    def repeated_baseline(self, values: Sequence[float], start: float, sigma: float = 0.004, run_seconds: float = 10.0) -> str:
        """The baseline run once per value, the runs after the first asked for by confirmation.requested."""
        experiment = f"{self.campaign}-0000"
        self._runs(experiment, self.head, None, "baseline", values, start, (), sigma, run_seconds)
        return experiment

    def _runs(
        self, experiment: str, commit: str, parent: str | None, description: str, values: Sequence[float], start: float,
        kept: Sequence[float], sigma: float, run_seconds: float,
    ) -> None:
        tip = self.head
        plan = [(commit, repeat, False, value) for repeat, value in enumerate(values)]
        plan += [(tip, repeat, True, value) for repeat, value in enumerate(kept, start=1)]
        clock = start
        for commit_run, repeat, kept_state, value in plan:
            if repeat or kept_state:
                self.events.append(ConfirmationRequested(
                    **self._base(experiment, clock - 0.5), commit=commit_run, repeat=repeat, kept_state=kept_state,
                    description="kept state" if kept_state else description, sigma=sigma, reason="too close to call",
                    baseline=parent is None,
                ))
            self._run_once(experiment, commit_run, parent, description, value, clock, clock + run_seconds, repeat, kept_state)
            clock += run_seconds + 1
        self._verdict(experiment, commit, parent, description, list(values), clock, sigma=sigma, kept_runs=len(kept),
                      confirmations=len(plan) - 1)

    def _run(
        self, experiment: str, commit: str, parent: str | None, description: str, val_bpb: float | None, start: float, end: float,
    ) -> None:
        self._run_once(experiment, commit, parent, description, val_bpb, start, end)
        self._verdict(experiment, commit, parent, description, [] if val_bpb is None else [val_bpb], end + 1)

    def _run_once(
        self, experiment: str, commit: str, parent: str | None, description: str, val_bpb: float | None, start: float,
        end: float, repeat: int = 0, kept_state: bool = False,
    ) -> RunFinished:
        self.events.append(RunStarted(**self._base(experiment, start), commit=commit, description=description, command="uv run train.py"))
        crashed = val_bpb is None
        metrics: dict[str, float | str] = {} if crashed else {"val_bpb": val_bpb, "peak_vram_mb": 45056.0, "training_seconds": end - start}
        suffix = f"-{repeat}" if repeat else ""
        run = RunFinished(
            **self._base(experiment, end + 0.5), event_id=f"run-{experiment}-{commit}{suffix}", commit=commit, parent=parent,
            description=description, status="crash" if crashed else "ok", metrics=metrics, exit_code=1 if crashed else 0,
            log_tail="RuntimeError: CUDA out of memory" if crashed else f"val_bpb: {val_bpb}", started_at=at(start),
            finished_at=at(end), baseline=parent is None, environment=ENVIRONMENT,
            discard_ref=None if parent is None else discarded_ref(self.campaign, commit), repeat=repeat, kept_state=kept_state,
        )
        self.events.append(run)
        return run

    def _verdict(
        self, experiment: str, commit: str, parent: str | None, description: str, values: list[float], seconds: float,
        sigma: float | None = None, kept_runs: int = 0, confirmations: int = 0,
    ) -> None:
        """keep, discard or crash on the mean of the change's runs, against the best mean so far."""
        before, mean = self.best, sum(values) / len(values) if values else None
        if mean is None:
            status, reason = "crash", "run ended with status crash"
        elif parent is None or before is None or mean < before:
            status, reason = "keep", "baseline" if parent is None else f"val_bpb {mean:.6f} < best {before}"
        else:
            status, reason = "discard", f"val_bpb {mean:.6f} >= best {before:.6f}"
        if status == "keep":
            self.best, self.head = mean, commit
        self.events.append(VerdictDecided(
            **self._base(experiment, seconds), event_id=f"verdict-{experiment}-{commit}", commit=commit, status=status,
            val_bpb=mean, memory_gb=0.0 if mean is None else 44.0, best_before=before, best_after=self.best,
            head=self.head, reason=reason, description=description, baseline=parent is None, sigma=sigma,
            runs=len(values), kept_runs=kept_runs, confirmations=confirmations, keep_rule="sprt" if sigma is not None else "greedy",
        ))


def hand_computed_campaign(name: str = "nov27") -> CampaignScript:
    """The example whose summary the tests check by hand.

    runs: baseline 10-70, exp1 75-135 keep, exp2 140-200 discard, exp3 230-250 crash,
    a rejected proposal at 255, exp5 260-320 keep; campaign.finished at 322.
    """
    script = CampaignScript(name).start(0.0).baseline(1.000, 10, 70)
    script.experiment("raise the learning rate", 0.990, 75, 135, proposed=20)
    script.experiment("use GeLU", 0.995, 140, 200)
    script.experiment("double the width", None, 230, 250)
    script.rejected("broken edit", 255)
    script.experiment("longer warmup", 0.980, 260, 320)
    return script.finish(322)


@dataclass
class RunningLedger:
    """The ledger service's serve, running in the test's event loop, with its HTTP address."""

    url: str
    stop: asyncio.Event
    task: asyncio.Task

    async def close(self) -> None:
        """Stop it the way SIGTERM would."""
        self.stop.set()
        await asyncio.wait_for(self.task, 15)


async def start_ledger(bus: Bus, state_dir: Path, tag: str = "nov27") -> RunningLedger:
    """Run the ledger on a free port and wait until its API answers."""
    port = free_port()
    settings = LedgerSettings(state_dir=state_dir, http_port=port, tag=tag, results_path=state_dir / "results.tsv")
    stop = asyncio.Event()
    ledger = RunningLedger(f"http://127.0.0.1:{port}", stop, asyncio.create_task(serve(bus, stop, settings)))
    async with httpx.AsyncClient() as http:
        for _ in range(200):
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{ledger.url}/healthz")).status_code == 200:
                    return ledger
            await asyncio.sleep(0.05)
    raise AssertionError("the ledger API did not come up")
