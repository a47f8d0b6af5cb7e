"""One campaign under chaos: `up` kept going (resumed when it ends early), kills struck in turn, each kill's recovery awaited."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from chaos_fuzz import send_fuzz
from chaos_plan import TAG, Plan
from chaos_watch import EventRecorder
from chaos_workspace import make_logging_workspace
from processes import kill, kill_services_left_behind, service_pids, stop

from shared.embedded import EmbeddedNats, free_port
from shared.processes import die_with_parent

RECOVERY_CAP = 120.0  # seconds after a kill without progress: counted as not recovered
STALL = 180.0  # seconds without progress, kills done: the campaign is stuck


@dataclass
class Strike:
    """One kill: of what, when, when the server was back (NATS only) and when the loop made progress again."""

    kind: str  # service, nats or up
    target: str
    at: float
    back: float | None = None
    recovered: float | None = None
    after_the_end: bool = False  # the campaign reached its limit before the loop had anything left to do


@dataclass
class Chaos:
    """One campaign under chaos, and everything seen while it ran."""

    root: Path
    plan: Plan
    rng: random.Random = field(init=False)
    strikes: list[Strike] = field(default_factory=list)
    sessions: list[tuple[float, subprocess.Popen]] = field(default_factory=list)
    exits: list[tuple[int, str]] = field(default_factory=list)  # `up` sessions that ended before the campaign did
    fuzz_sent: Counter = field(default_factory=Counter)
    left_behind: int = 0  # service processes still alive 30 s after their `up` died
    done: bool = False
    aborted: str = ""

    def __post_init__(self) -> None:
        self.rng = random.Random(self.plan.seed)
        self.workspace, self.state, self.run_log = self.root / "workspace", self.root / "state", self.root / "runs.jsonl"
        self.server = EmbeddedNats(self.root / "nats", port=free_port())
        self.recorder = EventRecorder(TAG, wildcard=self.plan.watch_all)

    @property
    def up(self) -> subprocess.Popen:
        return self.sessions[-1][1]

    def start_up(self) -> None:
        """A new `up` session, asking for the experiments still missing."""
        resume = ["--resume"] if self.sessions else []
        command = [sys.executable, "-m", "autoresearch", "up", "--workspace", str(self.workspace), "--tag", TAG,
                   "--max-experiments", str(max(self.plan.experiments - self.recorder.decided(), 0)), "--http-port", "0",
                   "--state-dir", str(self.state), "--train-command", f"{sys.executable} train.py", *resume]
        with (self.root / f"up-{len(self.sessions) + 1}.log").open("wb") as log:
            process = subprocess.Popen(command, env={**os.environ, "NATS_URL": self.server.url}, stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        self.sessions.append((time.monotonic(), process))

    async def keep_up(self) -> None:
        """Notice the end of the campaign, or an `up` that ended early: then resume the campaign."""
        code = self.up.poll()
        if code is None or self.done:
            return
        if code == 0:
            self.done = True
            return
        log = (self.root / f"up-{len(self.sessions)}.log").read_text(errors="replace").strip().splitlines()
        self.exits.append((code, "killed by the benchmark" if code == -signal.SIGKILL else (log[-1] if log else "")))
        if code == 2 or len(self.sessions) > 2 * self.plan.up_kills + 10:
            self.aborted = f"`up` cannot go on (exit code {code}): {self.exits[-1][1]}"
            self.done = True
            return
        self.left_behind += await kill_services_left_behind(self.state)
        self.start_up()

    async def strike(self, step: str) -> Strike | None:
        """Kill one thing; None when the service to kill is not running (it may be waiting to be restarted)."""
        if step == "nats":
            self.server.kill()
            strike = Strike("nats", "nats-server", time.monotonic())
            await asyncio.sleep(self.plan.outage)
            self.server.start()
            strike.back = time.monotonic()
            return strike
        if step == "up":
            kill(self.up.pid)
            return Strike("up", "up", time.monotonic())
        for _ in range(50):
            pids = service_pids(self.state).get(step)
            if pids:
                kill(self.rng.choice(pids))
                return Strike("service", step, time.monotonic())
            await asyncio.sleep(0.2)
        return None

    async def await_recovery(self, strike: Strike) -> None:
        """Wait until the loop moves again after a kill (after the new `up` started, for a killed `up`)."""
        while time.monotonic() < strike.at + RECOVERY_CAP and not self.done:
            await self.keep_up()
            since = strike.at
            if strike.kind == "up":  # what the dying services still did is no recovery: count from the new `up`
                since = next((started for started, _ in self.sessions if started > strike.at), None)
            moved = None if since is None else self.recorder.progress_after(since)
            if moved is not None:
                strike.recovered = moved
                return
            if self.finished():
                strike.after_the_end = True
                return
            await asyncio.sleep(0.05)

    def note(self, strike: Strike) -> None:
        """A line in chaos.log beside the services' logs: when each kill came, and how long the loop took to move again."""
        when = datetime.fromtimestamp(time.time() - (time.monotonic() - strike.at)).strftime("%H:%M:%S.%f")[:-3]
        took = "-" if strike.recovered is None else f"{strike.recovered - strike.at:.1f} s"
        with (self.root / "chaos.log").open("a") as log:
            log.write(f"{when} killed {strike.target}; the loop moved again after {took}\n")

    def stalled(self) -> bool:
        """Nothing moved for STALL seconds (the campaign not finished)."""
        moves = self.recorder.progress()
        last = moves[-1].at if moves else self.sessions[0][0]
        return not self.done and time.monotonic() - max(last, self.sessions[-1][0]) > STALL

    def finished(self) -> bool:
        """The campaign announced that it reached its limit."""
        return self.recorder.finished(self.plan.experiments)

    async def run(self) -> None:
        """The campaign, with every planned kill and fuzz round, until `up` finishes or the time runs out."""
        make_logging_workspace(self.workspace, self.run_log)
        self.server.start()
        await self.recorder.start(self.server.url)
        self.start_up()
        deadline = time.monotonic() + self.plan.timeout
        try:
            for step in self.plan.steps(self.rng):
                await self.keep_up()
                if self.done or self.finished() or self.stalled() or time.monotonic() > deadline:
                    break
                await asyncio.sleep(self.rng.uniform(0.1, 0.8))
                if step == "fuzz":
                    await send_fuzz(self.server.url, TAG, self.rng, self.fuzz_sent)
                elif strike := await self.strike(step):
                    self.strikes.append(strike)
                    await self.await_recovery(strike)
                    self.note(strike)
            while not self.done and time.monotonic() < deadline and not self.stalled():
                await self.keep_up()
                await asyncio.sleep(0.2)
            if self.stalled():
                self.aborted = f"the campaign stalled: no run started and no verdict for {STALL:.0f} s"
            elif not self.done:
                self.aborted = f"the campaign did not finish within {self.plan.timeout:.0f} s"
        finally:
            for _, process in self.sessions:
                await stop(process)
            await self.recorder.close()
            self.server.stop()
