"""One campaign of the noise benchmark: `autoresearch up` on the synthetic workspace until it has spent its runs."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from noise_workspace import make_noise_workspace
from processes import stop

from shared.bus import connect
from shared.embedded import EmbeddedNats
from shared.events import CampaignFinished, ConfirmationRequested, Event, RunFinished, VerdictDecided
from shared.processes import die_with_parent
from shared.replay import StreamCursor

WATCHED = (RunFinished, VerdictDecided, ConfirmationRequested, CampaignFinished)
RUN_TIMEOUT = 20  # seconds; a run takes a tenth of that on a busy machine
STALL = 90.0  # seconds without a new run or verdict: the loop is stuck, and its log says why


@dataclass(frozen=True)
class CampaignPlan:
    """One campaign: its noise, keep rule, budget of training runs and the evaluator's settings."""

    sigma: float
    rule: str
    index: int
    runs: int
    baseline_runs: int = 3
    max_runs: int | None = None
    noise_floor: float | None = None
    timeout: float = 600.0

    @property
    def tag(self) -> str:
        """The campaign tag: the same for every σ and rule, so the search proposer draws alike where histories agree."""
        return f"noise-{self.index}"

    @property
    def name(self) -> str:
        """The campaign's folder and label."""
        return f"sigma-{self.sigma:g}-{self.rule}-{self.index}"

    def environment(self) -> dict[str, str]:
        """The evaluator's settings as `up` hands them on to it (a service that lacks them ignores them)."""
        # greedy is the old rule whole: one run of every commit, the baseline's included
        baseline_runs = 1 if self.rule == "greedy" else self.baseline_runs
        env = {"AUTORESEARCH_KEEP_RULE": self.rule, "AUTORESEARCH_BASELINE_RUNS": str(baseline_runs)}
        if self.max_runs is not None:
            env["AUTORESEARCH_MAX_RUNS"] = str(self.max_runs)
        if self.noise_floor is not None:
            env["AUTORESEARCH_NOISE_FLOOR"] = str(self.noise_floor)
        return env


@dataclass
class CampaignRecord:
    """What one campaign left in the stream, cut at its budget, and how it ended."""

    plan: CampaignPlan
    events: list[Event] = field(default_factory=list)
    ended: str = ""
    wall: float = 0.0


def within_budget(events: list[Event], runs: int) -> tuple[list[Event], bool]:
    """The events up to the evaluator's answer to the runs-th run; True once that answer is there.

    With one trainer, runs happen one at a time, so everything decided before the next run finished used
    only the first `runs` runs: the budget is the same number of training runs for every rule.
    """
    seen = 0
    for position, event in enumerate(events):
        if isinstance(event, RunFinished):
            seen += 1
        elif seen >= runs and isinstance(event, (VerdictDecided, ConfirmationRequested)):
            return events[: position + 1], True
        if seen > runs:
            return events[:position], True
    return list(events), False


async def run_campaign(plan: CampaignPlan, root: Path) -> CampaignRecord:
    """Run one campaign in root against a NATS server of its own; stop `up` once the budget is spent."""
    workspace, state = root / "workspace", root / "state"
    make_noise_workspace(workspace, plan.sigma)
    server = EmbeddedNats(root / "nats")
    url = server.start()
    record = CampaignRecord(plan)
    command = [sys.executable, "-m", "autoresearch", "up", "--workspace", str(workspace), "--tag", plan.tag,
               "--max-experiments", str(plan.runs), "--http-port", "0", "--state-dir", str(state),
               "--train-command", f"{sys.executable} train.py", "--run-timeout", str(RUN_TIMEOUT)]
    bus = await connect(url, "bench/noise")
    cursor = StreamCursor(bus, WATCHED, plan.tag)
    started = time.monotonic()
    with (root / "up.log").open("wb") as log:
        up = subprocess.Popen(command, env={**os.environ, **plan.environment(), "NATS_URL": url}, stdout=log,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
    try:
        record.ended = await _follow(up, cursor, record, started)
    finally:
        record.wall = time.monotonic() - started
        await stop(up, grace=30)
        await bus.close()
        server.stop()
    return record


async def _follow(up: subprocess.Popen, cursor: StreamCursor, record: CampaignRecord, started: float) -> str:
    """Collect the campaign's events until its budget is spent; say why it ended."""
    seen: list[Event] = []
    moved = started
    while True:
        exited = up.poll() is not None  # asked before reading, so that its last events are read
        new = await cursor.fetch_new()
        seen += new
        moved = time.monotonic() if new else moved
        record.events, spent = within_budget(seen, record.plan.runs)
        if spent:
            return "budget spent"
        if any(isinstance(event, CampaignFinished) for event in seen):
            return "the campaign ended before its budget: " + next(e.reason for e in seen if isinstance(e, CampaignFinished))
        if exited:
            return f"`up` exited with code {up.returncode} before the budget was spent"
        if time.monotonic() - moved > STALL:
            return f"the campaign stalled: no run and no verdict for {STALL:.0f} s (see the logs in its state folder)"
        if time.monotonic() - started > record.plan.timeout:
            return f"the budget was not spent within {record.plan.timeout:.0f} s"
        await asyncio.sleep(0.25)
