"""Running one side of the overhead comparison: `autoresearch up` or the bash loop, timed and with its CPU time.

A side is launched as a child of this process and reaped with wait4, so its resource usage covers every process
it waited for: for `up`, its embedded NATS server, the five services and the training runs; for the bash loop,
git, sed, grep, awk and the runs. Afterwards `up`'s record is read back from its own store.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from overhead_workspace import BASH_LOOP, GIT_IDENTITY, StandInModel, edit_list, make_workspace, read_time_log, write_edits
from shared.auth import BusCredentials
from shared.bus import connect
from shared.embedded import EmbeddedNats, free_port
from shared.events import ProposalCreated, ProposalRequested, RunFinished, RunStarted, VerdictDecided
from shared.permissions import ADMIN
from shared.replay import replay


@dataclass
class Side:
    """What one campaign of one side did: when it launched and exited, its runs as train.py noted them, its CPU."""

    label: str
    launched: float
    exited: float
    returncode: int
    cpu: float  # user + system seconds of every process the side waited for
    runs: list[dict]
    rows: list[list[str]]  # results.tsv without its header
    verdicts: list[float] = field(default_factory=list)  # when each verdict was published (`up` only)
    tickets: list[float] = field(default_factory=list)  # seconds from each ticket to its proposal (`up` only)
    output: str = ""


def _spawn(command: list[str], env: dict[str, str], log: Path, cwd: Path | None = None) -> tuple[float, float, int, float]:
    """Run a command to its end; (launch time, exit time, exit code, CPU seconds of it and every child it reaped)."""
    with log.open("wb") as out:
        launched = time.time()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        _, status, usage = os.wait4(process.pid, 0)
        exited = time.time()
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    return launched, exited, process.returncode, usage.ru_utime + usage.ru_stime


def _rows(workspace: Path) -> list[list[str]]:
    results = workspace / "results.tsv"
    return [line.split("\t") for line in results.read_text().splitlines()[1:]] if results.exists() else []


def run_bash(root: Path, label: str, experiments: int, train_seconds: float) -> Side:
    """The plain loop: Karpathy's protocol in bash over the edit list."""
    workspace, time_log, edits = root / f"{label}-workspace", root / f"{label}.runs.jsonl", root / f"{label}.edits"
    make_workspace(workspace, time_log, train_seconds, experiments)
    write_edits(edits, edit_list(experiments))
    script = root / "loop.sh"
    script.write_text(BASH_LOOP)
    launched, exited, code, cpu = _spawn(["bash", str(script), str(workspace), str(edits), sys.executable],
                                         {**os.environ, **GIT_IDENTITY}, root / f"{label}.log")
    return Side(label, launched, exited, code, cpu, read_time_log(time_log), _rows(workspace),
                output=(root / f"{label}.log").read_text(errors="replace"))


def up_command(workspace: Path, tag: str, experiments: int, lookahead: int, skip_checks: bool) -> list[str]:
    """`autoresearch up` running each commit once, as the bash loop does, with the stand-in model proposing."""
    return [sys.executable, "-m", "autoresearch", "up", "--workspace", str(workspace), "--tag", tag,
            "--max-experiments", str(experiments), "--lookahead", str(lookahead), "--http-port", str(free_port()),
            "--proposer", "llm", "--keep-rule", "greedy", "--baseline-runs", "1",
            "--train-command", f"{sys.executable} train.py", *(["--skip-checks"] if skip_checks else [])]


def run_up(root: Path, label: str, experiments: int, train_seconds: float, lookahead: int, model: StandInModel,
           skip_checks: bool = False) -> Side:
    """`autoresearch up` with its own embedded NATS server, as a person would start it."""
    workspace, time_log = root / f"{label}-workspace", root / f"{label}.runs.jsonl"
    make_workspace(workspace, time_log, train_seconds, experiments)
    model.restart()
    env = {key: value for key, value in os.environ.items() if key != "NATS_URL"}
    env.update(AUTORESEARCH_LLM_BASE_URL=model.url, AUTORESEARCH_LLM_MODEL="stand-in")
    command = up_command(workspace, "bench", experiments, lookahead, skip_checks)
    launched, exited, code, cpu = _spawn(command, env, root / f"{label}.log")
    side = Side(label, launched, exited, code, cpu, read_time_log(time_log), _rows(workspace),
                output=(root / f"{label}.log").read_text(errors="replace"))
    if code == 0:
        side.verdicts, side.tickets = asyncio.run(_read_record(workspace / ".autoresearch", "bench"))
    return side


async def _read_record(state_dir: Path, tag: str) -> tuple[list[float], list[float]]:
    """From the campaign's stream, once `up` is gone: verdict times, and each ticket's wait for its proposal."""
    credentials = BusCredentials.prepare(state_dir / "creds")
    server = EmbeddedNats(state_dir / "nats", config=credentials.config)
    url = await asyncio.to_thread(server.start)
    try:
        bus = await connect(url, "bench/overhead", credentials.file(ADMIN), wait=10.0)
        try:
            events = await replay(bus, [ProposalRequested, ProposalCreated, RunStarted, RunFinished, VerdictDecided], tag)
        finally:
            await bus.close()
    finally:
        await asyncio.to_thread(server.stop)
    verdicts = [e.occurred_at.timestamp() for e in events if isinstance(e, VerdictDecided)]
    asked = {e.experiment_id: e.occurred_at.timestamp() for e in events if isinstance(e, ProposalRequested)}
    answered = {e.experiment_id: e.occurred_at.timestamp() for e in events if isinstance(e, ProposalCreated)}
    waits = [answered[key] - asked[key] for key in asked if key in answered]
    return sorted(verdicts), waits
