"""Benchmark: a campaign under chaos (killed services, a killed NATS server, a killed `up`, a fuzz corpus on every subject).

Runs `autoresearch up --max-experiments N` on a fast synthetic workspace (each
run of train.py takes 0.3 to 1 s and notes its commit, pid, start and end in a
log outside the workspace) against a NATS server of its own, on a fixed port
and store so that it can be killed and started again, and meanwhile:

- kills (SIGKILL) service processes, each service in turn in a shuffled order,
  found by their command line (`python -m autoresearch service NAME ...
  --state-dir STATE`); `up` restarts them;
- kills the NATS server and starts it again --outage seconds later (`up` does
  not restart a server it did not start: the services must reconnect);
- kills `up` itself, then finishes the campaign with `up --resume`, asking for
  the experiments still missing (as it also does when `up` gives up);
- publishes a fuzz corpus at every subject with a plain NATS client: malformed
  JSON, wrong types, huge fields, unknown campaigns, dates of 1970 and 2999,
  ids of 1 MB. An event that is valid and names the campaign (a forged verdict)
  is not part of it: keeping those out is the job of the bus's authentication.

After each kill it waits for the loop to make progress again (the next
run.started or verdict.decided, seen by a plain NATS client subscribed to each
event subject; --watch-all subscribes to '>' instead, which matches the
services' pull inboxes too and slows their recovery: see EventRecorder),
and takes the time as that kill's recovery: a wait that an earlier kill caused
is charged to the latest one (chaos.log, beside the services' logs, lists the
kills). Then it prints what the campaign left behind: kills per target, rows
of results.tsv against 1 + N, duplicated and lost experiments, executions of
train.py per commit, concurrent runs, the branch tip against the kept commits,
and recovery times per kind of kill.

    .venv/bin/python bench/chaos.py [--experiments 30] [--service-kills 30] [--nats-kills 3] [--up-kills 1]
                                    [--fuzz 2] [--seed 1] [--outage 2] [--watch-all] [--quick] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nats
from recording import EventRecorder, fuzz_corpus, make_logging_workspace, quiet, read_run_log, service_pids
from shared.embedded import EmbeddedNats, free_port
from shared.events import EVENT_TYPES, CampaignFinished, RunFinished, RunStarted, VerdictDecided
from shared.processes import die_with_parent

SERVICES = ("proposer", "editor", "trainer", "evaluator", "ledger")
TAG = "chaos"
RECOVERY_CAP = 120.0  # seconds after a kill without progress: counted as not recovered
STALL = 180.0  # seconds without progress, kills done: the campaign is stuck


@dataclass
class Plan:
    """How big a chaos round is."""

    experiments: int = 30
    service_kills: int = 30
    nats_kills: int = 3
    up_kills: int = 1
    fuzz: int = 2  # rounds of the fuzz corpus
    seed: int = 1
    outage: float = 2.0  # seconds the NATS server stays down
    watch_all: bool = False  # watch with a subscription to '>' (as `nats sub '>'` does) instead of one per event subject
    timeout: float = 900.0

    def steps(self, rng: random.Random) -> list[str]:
        """The order of things to do: service names (each service in turn, shuffled), 'nats', 'up', 'fuzz' spread among them."""
        steps = [SERVICES[i % len(SERVICES)] for i in range(self.service_kills)]
        rng.shuffle(steps)
        for kind, count in (("nats", self.nats_kills), ("up", self.up_kills), ("fuzz", self.fuzz)):
            for k in range(count):
                position = round(len(steps) * (k + 1) / (count + 1)) + rng.randint(-1, 1)
                steps.insert(min(max(position, 0), len(steps)), kind)
        return steps


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

    def decided(self) -> int:
        """Experiments beyond the baseline with a verdict."""
        return len({s.event.experiment_id for s in self.recorder.of(VerdictDecided) if not s.event.baseline})

    def start_up(self) -> None:
        """A new `up` session, asking for the experiments still missing."""
        resume = ["--resume"] if self.sessions else []
        command = [sys.executable, "-m", "autoresearch", "up", "--workspace", str(self.workspace), "--tag", TAG,
                   "--max-experiments", str(max(self.plan.experiments - self.decided(), 0)), "--http-port", "0",
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
        await self.wait_for_services_to_go()
        self.start_up()

    async def wait_for_services_to_go(self, timeout: float = 30.0) -> None:
        """The services of an `up` that died stop by themselves; those still alive after timeout are killed and counted."""
        deadline = time.monotonic() + timeout
        while service_pids(self.state) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        for pids in service_pids(self.state).values():
            for pid in pids:
                self.left_behind += 1
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

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
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.up.pid, signal.SIGKILL)
            return Strike("up", "up", time.monotonic())
        for _ in range(50):
            pids = service_pids(self.state).get(step)
            if pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.rng.choice(pids), signal.SIGKILL)
                return Strike("service", step, time.monotonic())
            await asyncio.sleep(0.2)
        return None

    def progress_after(self, moment: float) -> float | None:
        """When the loop first moved (run.started or verdict.decided) after moment."""
        return next((s.at for s in self.recorder.of(RunStarted, VerdictDecided) if s.at > moment), None)

    async def await_recovery(self, strike: Strike) -> None:
        """Wait until the loop moves again after a kill (after the new `up` started, for a killed `up`)."""
        while time.monotonic() < strike.at + RECOVERY_CAP and not self.done:
            await self.keep_up()
            since = strike.at
            if strike.kind == "up":  # what the dying services still did is no recovery: count from the new `up`
                since = next((started for started, _ in self.sessions if started > strike.at), None)
            moved = None if since is None else self.progress_after(since)
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
        moves = self.recorder.of(RunStarted, VerdictDecided)
        last = moves[-1].at if moves else self.sessions[0][0]
        return not self.done and time.monotonic() - max(last, self.sessions[-1][0]) > STALL

    def finished(self) -> bool:
        """The campaign announced that it reached its limit."""
        return any(s.event.experiments >= self.plan.experiments for s in self.recorder.of(CampaignFinished))

    async def send_fuzz(self) -> None:
        """One round of the fuzz corpus at every subject, from a plain NATS client."""
        nc = await nats.connect(self.server.url, max_reconnect_attempts=3, error_cb=quiet)
        try:
            for subject in EVENT_TYPES:
                for category, payload in fuzz_corpus(subject, TAG, self.rng):
                    try:
                        await nc.publish(subject, payload)
                        self.fuzz_sent[category] += 1
                        self.fuzz_sent["bytes"] += len(payload)
                    except Exception:
                        self.fuzz_sent["refused by the client"] += 1
                await nc.flush(timeout=10)
        finally:
            await nc.close()

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
                    await self.send_fuzz()
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
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        await asyncio.to_thread(process.wait, 60)
                    if process.poll() is None:
                        process.kill()
            await self.recorder.close()
            self.server.stop()


# What the campaign left behind, measured.


def results_rows(path: Path) -> list[list[str]]:
    """results.tsv's rows below the header."""
    if not path.exists():
        return []
    return [line.split("\t") for line in path.read_text().splitlines()[1:] if line.strip()]


def record_figures(rows: list[list[str]], verdicts: list[VerdictDecided]) -> dict[str, int]:
    """Duplicated and lost experiments: results.tsv against the verdicts published."""
    per_commit = Counter(row[0] for row in rows)
    per_experiment = Counter(v.experiment_id for v in verdicts)
    row_commits, verdict_commits = set(per_commit), {v.commit[:7] for v in verdicts}
    return {
        "rows": len(rows),
        "decided": len({v.experiment_id for v in verdicts if not v.baseline}),
        "duplicate rows": sum(n - 1 for n in per_commit.values()),
        "experiments decided twice": sum(1 for n in per_experiment.values() if n > 1),
        "verdicts missing from results.tsv": len(verdict_commits - row_commits),
        "rows without a verdict": len(row_commits - verdict_commits),
    }


def commit_of(note: dict, workspace: Path, commits: set[str]) -> str:
    """The commit a run note names; a note that could only hash train.py is matched to the commit holding that text."""
    if not note["commit"].startswith("content:"):
        return note["commit"]
    for commit in commits:
        text = subprocess.run(["git", "show", f"{commit}:train.py"], cwd=workspace, capture_output=True).stdout
        if "content:" + hashlib.sha1(text).hexdigest() == note["commit"]:
            return commit
    return note["commit"]


def run_figures(notes: list[dict], finished_at: dict[str, float]) -> dict[str, object]:
    """Executions of train.py per commit, runs after the commit's result was published, runs that overlapped another."""
    starts = [n for n in notes if n["event"] == "start"]
    ends = {(n["commit"], n["pid"]): n["time"] for n in notes if n["event"] == "end"}
    per_commit = Counter(n["commit"] for n in starts)
    spans = sorted((n["time"], ends[(n["commit"], n["pid"])]) for n in starts if (n["commit"], n["pid"]) in ends)
    overlapping, latest_end = 0, 0.0
    for start, end in spans:
        overlapping += start < latest_end
        latest_end = max(latest_end, end)
    return {
        "runs": len(starts),
        "commits run": len(per_commit),
        "executions per commit": dict(sorted(Counter(per_commit.values()).items())),
        "runs killed before their end": sum(1 for n in starts if (n["commit"], n["pid"]) not in ends),
        "runs after the commit's result was published": sum(
            1 for n in starts if n["commit"] in finished_at and n["time"] > finished_at[n["commit"]]),
        "runs started while another was running": sum(1 for n in starts if not n.get("alone", True)),
        "finished runs overlapping another": overlapping,
    }


def git(workspace: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=workspace, capture_output=True, text=True)


def branch_figures(workspace: Path, verdicts: list[VerdictDecided]) -> dict[str, object]:
    """The campaign branch against the kept commits: the tip is the last kept commit, every kept commit is in its history."""
    tip = git(workspace, "rev-parse", f"refs/heads/autoresearch/{TAG}").stdout.strip()
    kept = [v.commit for v in verdicts if v.status == "keep"]
    outside = sum(1 for commit in kept if git(workspace, "merge-base", "--is-ancestor", commit, tip).returncode != 0)
    return {"tip is the last kept commit": bool(kept) and tip == kept[-1], "kept commits not in the branch": outside}


def recovery_figures(strikes: list[Strike]) -> dict[str, tuple[int, float | None, float | None, int]]:
    """Per kind of kill: (kills, p50 and max seconds to the next progress, kills never recovered from)."""
    groups: dict[str, list[Strike]] = {}
    for strike in (s for s in strikes if not s.after_the_end):
        groups.setdefault(strike.kind, []).append(strike)
        if strike.kind == "service":
            groups.setdefault(f"service {strike.target}", []).append(strike)
    figures = {}
    for name, members in sorted(groups.items()):
        times = [s.recovered - s.at for s in members if s.recovered is not None]
        figures[name] = (len(members), statistics.median(times) if times else None, max(times, default=None),
                         sum(1 for s in members if s.recovered is None))
        if name == "nats":
            back = [s.recovered - s.back for s in members if s.recovered is not None and s.back is not None]
            figures["nats, from its return"] = (len(members), statistics.median(back) if back else None,
                                                max(back, default=None), figures[name][3])
    return figures


@dataclass
class Report:
    """Every figure of one chaos round."""

    plan: Plan
    wall: float
    kills: Counter
    sessions: int
    exits: list[tuple[int, str]]
    left_behind: int
    fuzz: Counter
    record: dict[str, int]
    runs: dict[str, object]
    branch: dict[str, object]
    recovery: dict[str, tuple[int, float | None, float | None, int]]
    aborted: str

    @property
    def lost(self) -> int:
        return self.record["verdicts missing from results.tsv"] + self.record["rows without a verdict"]

    @property
    def duplicated(self) -> int:
        return self.record["duplicate rows"] + self.record["experiments decided twice"]

    def targets(self) -> list[tuple[str, bool, str]]:
        """The issue's targets: (target, met, figure)."""
        rows, asked = self.record["rows"], 1 + self.plan.experiments
        double = self.runs["runs after the commit's result was published"]
        concurrent = self.runs["runs started while another was running"] + self.runs["finished runs overlapping another"]
        all_p50 = [f[1] for name, f in self.recovery.items() if name in ("service", "nats", "up")]
        return [
            ("0 lost experiments", self.lost == 0, str(self.lost)),
            ("0 duplicated experiments", self.duplicated == 0, str(self.duplicated)),
            ("0 double runs", double == 0, str(double)),
            ("0 concurrent runs", concurrent == 0, str(concurrent)),
            ("limit exact", rows == asked and self.record["decided"] == self.plan.experiments,
             f"{rows} rows of {asked}, {self.record['decided']} decided of {self.plan.experiments}"),
            ("branch right", self.branch["tip is the last kept commit"] and not self.branch["kept commits not in the branch"],
             f"tip is the last kept commit: {self.branch['tip is the last kept commit']}, "
             f"kept commits not in the branch: {self.branch['kept commits not in the branch']}"),
            ("recovery p50 < 5 s", all(p is not None and p < 5.0 for p in all_p50),
             ", ".join(f"{name} {seconds(f[1])}" for name, f in self.recovery.items() if name in ("service", "nats", "up"))),
        ]

    def print(self) -> None:
        plan = self.plan
        print(f"chaos: {plan.experiments} experiments asked, seed {plan.seed}: {plan.service_kills} service kills, "
              f"{plan.nats_kills} NATS kills ({plan.outage:g} s outages), {plan.up_kills} `up` kills, {plan.fuzz} fuzz rounds; "
              f"watching {'>' if plan.watch_all else 'each event subject'}")
        if self.aborted:
            print(f"ABORTED: {self.aborted}")
        print(f"wall time: {self.wall:.1f} s")
        planned, done = plan.service_kills + plan.nats_kills + plan.up_kills, sum(self.kills.values())
        print(f"kills: {done} of {planned} planned" + (" (the campaign ended before the rest)" if done < planned else "")
              + ": " + " · ".join(f"{name} {n}" for name, n in sorted(self.kills.items())))
        print(f"`up` sessions: {self.sessions}; ended early: "
              + ("; ".join(f"exit {code} ({why[:160]})" for code, why in self.exits) or "none"))
        print(f"service processes left behind by a dead `up`: {self.left_behind}")
        fuzz = {k: v for k, v in self.fuzz.items() if k != "bytes"}
        print(f"fuzz: {sum(fuzz.values())} messages, {self.fuzz['bytes'] / 1e6:.1f} MB: "
              + ", ".join(f"{k} {v}" for k, v in sorted(fuzz.items())))
        print(f"rows in results.tsv: {self.record['rows']} (asked {1 + plan.experiments}); "
              f"experiments decided: {self.record['decided']} (asked {plan.experiments})")
        for name in ("duplicate rows", "experiments decided twice", "verdicts missing from results.tsv", "rows without a verdict"):
            print(f"{name}: {self.record[name]}")
        for name, value in self.runs.items():
            print(f"{name}: {value}")
        for name, value in self.branch.items():
            print(f"{name}: {value}")
        print("recovery (kill to the next run.started or verdict.decided):")
        for name, (kills, p50, worst, never) in self.recovery.items():
            print(f"  {name:<22} {kills:>3} kills · p50 {seconds(p50)} · max {seconds(worst)}"
                  + (f" · {never} never recovered" if never else ""))
        print("targets:")
        for target, met, figure in self.targets():
            print(f"  {'PASS' if met else 'FAIL'}  {target}: {figure}")


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def measure(chaos: Chaos, wall: float) -> Report:
    """Read what the campaign left behind and what was seen while it ran."""
    verdicts = [s.event for s in chaos.recorder.of(VerdictDecided)]
    finished_at: dict[str, float] = {}
    for seen in chaos.recorder.of(RunFinished):
        finished_at.setdefault(seen.event.commit, seen.wall)
    commits = set(finished_at) | {s.event.commit for s in chaos.recorder.of(RunStarted)}
    notes = [{**n, "commit": commit_of(n, chaos.workspace, commits)} for n in read_run_log(chaos.run_log)]
    return Report(
        plan=chaos.plan, wall=wall, kills=Counter(s.target for s in chaos.strikes), sessions=len(chaos.sessions),
        exits=chaos.exits, left_behind=chaos.left_behind, fuzz=chaos.fuzz_sent,
        record=record_figures(results_rows(chaos.workspace / "results.tsv"), verdicts),
        runs=run_figures(notes, finished_at), branch=branch_figures(chaos.workspace, verdicts),
        recovery=recovery_figures(chaos.strikes), aborted=chaos.aborted,
    )


async def run_chaos(root: Path, plan: Plan) -> Report:
    """One chaos round in root; its figures."""
    chaos = Chaos(root, plan)
    started = time.monotonic()
    await chaos.run()
    return measure(chaos, time.monotonic() - started)


QUICK = Plan(experiments=4, service_kills=4, nats_kills=1, up_kills=1, fuzz=1, timeout=240.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int)
    parser.add_argument("--service-kills", type=int)
    parser.add_argument("--nats-kills", type=int)
    parser.add_argument("--up-kills", type=int)
    parser.add_argument("--fuzz", type=int, help="rounds of the fuzz corpus")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--outage", type=float, help="seconds the NATS server stays down")
    parser.add_argument("--timeout", type=float, help="seconds before the round is given up")
    parser.add_argument("--quick", action="store_true", help="a small round, under a minute")
    parser.add_argument("--watch-all", action="store_true", default=None,
                        help="watch with a subscription to '>', as `nats sub '>'` does (it changes what it watches)")
    parser.add_argument("--keep", type=Path, help="run in this new folder and keep it (workspace, logs, NATS store)")
    args = parser.parse_args()
    plan = QUICK if args.quick else Plan()
    for name in ("experiments", "service_kills", "nats_kills", "up_kills", "fuzz", "seed", "outage", "timeout", "watch_all"):
        if getattr(args, name) is not None:
            setattr(plan, name, getattr(args, name))
    if args.keep:
        report = asyncio.run(run_chaos(args.keep.resolve(), plan))
    else:
        with tempfile.TemporaryDirectory(prefix="autoresearch-chaos-") as tmp:
            report = asyncio.run(run_chaos(Path(tmp), plan))
    report.print()


if __name__ == "__main__":
    main()
