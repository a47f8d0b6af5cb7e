"""One campaign of the GPU check: `autoresearch up` under a deadline, then its record read back from its own stream."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from processes import kill, service_pids

from shared.auth import BusCredentials
from shared.bus import connect
from shared.embedded import EmbeddedNats
from shared.events import CampaignFinished, CampaignStarted, Event, RunFinished, RunStarted, VerdictDecided
from shared.permissions import ADMIN
from shared.processes import die_with_parent
from shared.replay import replay

TAG = "gpucheck"
RECORD_KINDS = (CampaignStarted, RunStarted, RunFinished, VerdictDecided, CampaignFinished)
GRACE_S = 30.0  # for `up` to stop its services and its run after SIGTERM


@dataclass
class Campaign:
    """What one `up` did: how it ended, how long it took, what it printed, its record and results.tsv."""

    exit_code: int | None  # None: it was still running at its deadline and was stopped
    wall_s: float
    output: str
    events: list[Event] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what could not be read back, in words


def up_command(workspace: Path, experiments: int, extra: list[str]) -> list[str]:
    """The `up` command line: the search proposer, the embedded NATS server, no read API."""
    return [sys.executable, "-m", "autoresearch", "up", "--workspace", str(workspace), "--tag", TAG,
            "--max-experiments", str(experiments), "--proposer", "search", "--http-port", "0", *extra]


def up_supports(flag: str) -> bool:
    """Whether this project's `up` knows a flag (checks before the first run may or may not be there)."""
    done = subprocess.run([sys.executable, "-m", "autoresearch", "up", "--help"], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"}, timeout=60)
    return flag in done.stdout


def run_up(command: list[str], env: dict[str, str], log: Path, timeout: float) -> tuple[int | None, float]:
    """Run `up` in a session of its own with its output in log; past timeout stop it, and everything it started."""
    env = {k: v for k, v in env.items() if k != "NATS_URL"}  # the embedded server, as a new user gets it
    started = time.monotonic()
    with log.open("wb") as out:
        # Its own session, so a stop reaches everything it started; and it stops if this check is killed.
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, preexec_fn=die_with_parent)
        try:
            code: int | None = process.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
            _stop_group(process)
    return code, time.monotonic() - started


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM `up` (it stops its services and the run), then SIGKILL its whole session if anything is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(GRACE_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def kill_leftovers(state_dir: Path) -> int:
    """Kill service processes of this state folder still alive after `up` ended; return how many."""
    left = [pid for pids in service_pids(state_dir).values() for pid in pids]
    for pid in left:
        kill(pid)
    return len(left)


async def read_record(state_dir: Path, tag: str = TAG) -> list[Event]:
    """The campaign's events, read back by starting its embedded server again on its store with its credentials."""
    credentials = BusCredentials.prepare(state_dir / "creds")
    server = EmbeddedNats(state_dir / "nats", config=credentials.config)
    url = server.start()
    try:
        bus = await connect(url, "gpu-check", credentials.file(ADMIN), wait=10.0)
        try:
            return await replay(bus, RECORD_KINDS, tag)
        finally:
            await bus.close()
    finally:
        server.stop()


def results_rows(workspace: Path) -> list[list[str]]:
    """The rows of the workspace's results.tsv below its header; none when there is no file."""
    path = workspace / "results.tsv"
    if not path.exists():
        return []
    return [line.split("\t") for line in path.read_text(errors="replace").splitlines()[1:] if line.strip()]


async def run_campaign(workspace: Path, experiments: int, extra: list[str], env: dict[str, str], log: Path,
                       timeout: float) -> Campaign:
    """Run `up` on workspace under timeout, then read back what it recorded."""
    state_dir = workspace / ".autoresearch"
    code, wall = run_up(up_command(workspace, experiments, extra), env, log, timeout)
    campaign = Campaign(code, wall, log.read_text(errors="replace"))
    if (left := kill_leftovers(state_dir)):
        campaign.problems.append(f"{left} service process(es) were still running after `up` ended and were killed")
    campaign.rows = results_rows(workspace)
    if (state_dir / "nats").is_dir():
        try:
            campaign.events = await read_record(state_dir)
        except Exception as exc:  # a check reports what it could not read and goes on with the rest
            campaign.problems.append(f"the campaign's record could not be read back: {type(exc).__name__}: {exc}")
    else:
        campaign.problems.append(f"no NATS store in {state_dir}: `up` never started its server")
    return campaign
