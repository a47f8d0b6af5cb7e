"""Benchmark: how soon a trainer killed with SIGKILL mid-run is back, and runs the interrupted commit again.

Runs `autoresearch up` on a fresh workspace whose runs take --train seconds, kills the trainer process
(not `up`) --kills times, each time --into seconds into an experiment's run, and prints per kill and as
a median: the seconds from the kill until `up` had started a new trainer, until that trainer's commit
consumer was ready, and until the interrupted experiment's run started again; and the most `train.py`
processes ever seen at once (polled every few milliseconds).

    .venv/bin/python bench/trainer_restart.py [--kills 3] [--train 3] [--into 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nats

from recording import make_workspace
from services.trainer.main import ACK_WAIT
from shared.embedded import EmbeddedNats
from shared.events import RunStarted


def children(parent: int, mentioning: bytes) -> list[int]:
    """Processes whose parent is `parent` and whose command line holds `mentioning`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                if mentioning in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
        except (OSError, ValueError):
            continue
    return found


def training_processes(rooms: Path) -> int:
    """Live processes running train.py in a clean room under rooms."""
    count = 0
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes().split(b"\0")[-2:] == [b"train.py", b""]:
                count += Path(os.readlink(proc / "cwd")).parent == rooms
        except OSError:
            continue
    return count


def consumer_ready_after(log: Path, killed_at: float) -> float | None:
    """Seconds from the kill (wall clock) to the first `consuming trainer-commits` line logged after it."""
    for line in log.read_text(errors="replace").splitlines():
        with_json = line[line.find("{"):]
        try:
            entry = json.loads(with_json)
        except ValueError:
            continue
        if entry.get("event") == "consuming" and str(entry.get("durable", "")).startswith("trainer-commits"):
            at = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")).timestamp()
            if at > killed_at:
                return at - killed_at
    return None


async def measure(workspace: Path, url: str, kills: int, into: float) -> tuple[list[tuple[float, float, float]], int]:
    starts: list[tuple[float, str]] = []
    nc = await nats.connect(url)

    async def keep(msg) -> None:
        event = json.loads(msg.data)
        if not event["experiment_id"].endswith("-0000"):  # the baseline runs again without any message
            starts.append((time.monotonic(), event["experiment_id"]))

    await nc.subscribe(RunStarted.subject, cb=keep)
    command = [sys.executable, "-m", "autoresearch", "up", "--workspace", str(workspace), "--tag", "bench",
               "--http-port", "0", "--train-command", f"{sys.executable} train.py", "--max-experiments", str(kills + 1)]
    rooms = workspace.parent / "rooms"  # the temp folder of up's services, where each run gets a clean room
    rooms.mkdir()
    env = {**os.environ, "NATS_URL": url, "TMPDIR": str(rooms)}
    up = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    most = 0

    async def poll() -> None:
        nonlocal most
        while True:
            most = max(most, training_processes(rooms))
            await asyncio.sleep(0.005)

    poller = asyncio.create_task(poll())
    figures = []
    try:
        for _ in range(kills):
            seen = len(starts)
            while len(starts) == seen:
                await asyncio.sleep(0.01)
            await asyncio.sleep(into)
            experiment = starts[-1][1]
            (trainer,) = children(up.pid, b"service\0trainer")
            killed, killed_wall = time.monotonic(), time.time()
            os.kill(trainer, signal.SIGKILL)
            while not [pid for pid in children(up.pid, b"service\0trainer") if pid != trainer]:
                await asyncio.sleep(0.005)
            restarted = time.monotonic() - killed
            while not [at for at, exp in starts if exp == experiment and at > killed]:
                await asyncio.sleep(0.005)
            again = next(at for at, exp in starts if exp == experiment and at > killed) - killed
            ready = consumer_ready_after(workspace / ".autoresearch" / "logs" / "trainer.log", killed_wall)
            figures.append((restarted, ready if ready is not None else float("nan"), again))
        await asyncio.to_thread(up.wait)
    finally:
        poller.cancel()
        if up.poll() is None:
            up.kill()
            up.wait()
        await nc.close()
    if up.returncode != 0:
        raise SystemExit(f"autoresearch up failed ({up.returncode}): {up.stderr.read().decode()[-2000:]}")
    return figures, most


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--train", type=float, default=3.0, help="seconds each training run takes")
    parser.add_argument("--into", type=float, default=1.0, help="seconds into a run when the trainer is killed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="autoresearch-restart-") as tmp:
        workspace = Path(tmp) / "workspace"
        make_workspace(workspace, args.train)
        server = EmbeddedNats(Path(tmp) / "nats")
        url = server.start()
        try:
            figures, most = asyncio.run(measure(workspace, url, args.kills, args.into))
        finally:
            server.stop()
    print(f"trainer ack wait {ACK_WAIT:.1f}s; runs of {args.train:.1f}s, each kill {args.into:.1f}s into a run")
    print("kill  new trainer  consumer ready  run again")
    for index, (restarted, ready, again) in enumerate(figures, 1):
        print(f"{index:>4}  {restarted:>10.2f}s  {ready:>13.2f}s  {again:>8.2f}s")
    medians = [statistics.median(column) for column in zip(*figures)]
    print(f"median {medians[0]:>9.2f}s  {medians[1]:>13.2f}s  {medians[2]:>8.2f}s")
    print(f"most train.py processes at once: {most}")


if __name__ == "__main__":
    main()
