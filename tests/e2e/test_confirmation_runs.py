"""Confirmation runs end to end: `up` with a train.py whose val_bpb the test scripts, on a real nats-server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from services.evaluator.noise import cautious_sigma
from shared.bus import connect
from shared.events import ConfirmationRequested, RunFinished, VerdictDecided
from shared.replay import replay
from tests.conftest import git
from tests.e2e.test_trainer_killed import trainer_of
from tests.e2e.test_up import results_rows

# The n-th run of the campaign prints VALUES[n] (then 1.05: clearly worse). The baseline's three runs give
# σ̂ = 0.01 on two degrees of freedom, which the rule raises to 0.018; the first change's 0.95 is a gain of
# 2.7 of those, too small to keep at once, so it runs again, and 0.95, 0.95 clear the test. The counter
# moves when a run ends, so a run killed midway reads its value again.
VALUES = [1.00, 1.01, 0.99, 0.95, 0.95]
SCRIPTED = '''"""A train.py whose val_bpb the test scripts run by run."""
import os
import pathlib
import time

LEARNING_RATE = 0.01
COUNTER = pathlib.Path({counter!r})
VALUES = {values!r}
n = int(COUNTER.read_text()) if COUNTER.exists() else 0
pathlib.Path({marker!r}).write_text(f"{{n}} {{os.getpid()}}")
time.sleep(float(pathlib.Path({pace!r}).read_text()) if pathlib.Path({pace!r}).exists() and n == {slow} else 0.05)
COUNTER.write_text(str(n + 1))
print("---")
print(f"val_bpb: {{VALUES[n] if n < len(VALUES) else 1.05:.6f}}")
print("peak_vram_mb: 1024.0")
'''


def scripted_workspace(workspace: Path, tmp_path: Path, slow: int = -1) -> dict[str, Path]:
    files = {name: tmp_path / name for name in ("counter", "marker", "pace")}
    source = SCRIPTED.format(counter=str(files["counter"]), values=VALUES, marker=str(files["marker"]),
                             pace=str(files["pace"]), slow=slow)
    (workspace / "train.py").write_text(source)
    (workspace / "autoresearch.toml").write_text("[workspace]\ntrust_printed_metric = true\n")
    git(workspace, "add", "-A")
    git(workspace, "commit", "-qm", "scripted values")
    return files


def up_command(workspace: Path, tag: str, experiments: int) -> list[str]:
    return [sys.executable, "-m", "autoresearch", "up", "--workspace", str(workspace), "--tag", tag, "--http-port", "0",
            "--train-command", f"{sys.executable} train.py", "--max-experiments", str(experiments), "--lookahead", "0"]


async def record(nats_server: str, tag: str) -> tuple[list[RunFinished], list[ConfirmationRequested], list[VerdictDecided]]:
    bus = await connect(nats_server, "test/reader")
    try:
        events = await replay(bus, [RunFinished, ConfirmationRequested, VerdictDecided], tag)
    finally:
        await bus.close()
    runs = [e for e in events if isinstance(e, RunFinished)]
    return runs, [e for e in events if isinstance(e, ConfirmationRequested)], [e for e in events if isinstance(e, VerdictDecided)]


async def test_an_ambiguous_change_is_run_again_and_judged_on_its_mean(toy_workspace: Path, nats_server: str, tmp_path: Path):
    scripted_workspace(toy_workspace, tmp_path)
    env = {**os.environ, "NATS_URL": nats_server}
    done = await asyncio.to_thread(subprocess.run, up_command(toy_workspace, "confirm", 2), env=env, capture_output=True,
                                   text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    runs, requests, verdicts = await record(nats_server, "confirm")
    assert [(r.experiment_id, r.repeat) for r in runs if r.baseline] == [("confirm-0000", 0), ("confirm-0000", 1), ("confirm-0000", 2)]
    first = [r for r in runs if r.experiment_id == "confirm-0001"]
    assert [r.repeat for r in first] == [0, 1] and len({r.commit for r in first}) == 1
    assert [(q.experiment_id, q.repeat, q.kept_state) for q in requests if not q.baseline] == [("confirm-0001", 1, False)]
    judged = {v.experiment_id: v for v in verdicts}
    kept = judged["confirm-0001"]
    assert (kept.status, kept.runs, kept.confirmations) == ("keep", 2, 1)
    assert kept.val_bpb == pytest.approx(0.95) and kept.sigma == pytest.approx(cautious_sigma(0.01 * (2 / 3) ** 0.5, 3))
    assert judged["confirm-0002"].status == "discard" and judged["confirm-0002"].runs == 1
    rows = results_rows(toy_workspace)
    assert [row[1] for row in rows] == ["1.000000", "0.950000", "1.050000"]  # one row per experiment, at its mean
    assert git(toy_workspace, "rev-parse", "autoresearch/confirm") == kept.commit
    assert "σ̂" in done.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_services_killed_during_a_confirmation_run_lose_nothing_and_repeat_nothing(
    toy_workspace: Path, nats_server: str, tmp_path: Path,
):
    files = scripted_workspace(toy_workspace, tmp_path, slow=4)  # the change's first confirmation run
    files["pace"].write_text("60")
    env = {**os.environ, "NATS_URL": nats_server}
    up = subprocess.Popen(up_command(toy_workspace, "again", 1), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
    try:
        for _ in range(1200):
            if files["marker"].exists() and files["marker"].read_text().startswith("4 "):
                break
            await asyncio.sleep(0.05)
        trainer, evaluator = trainer_of(up.pid), service_of(up.pid, "evaluator")
        assert trainer is not None and evaluator is not None  # the slow confirmation run is under way
        os.kill(evaluator, 9)
        os.kill(trainer, 9)
        files["pace"].unlink()
        out, err = await asyncio.to_thread(up.communicate, timeout=150)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
    assert up.returncode == 0, out + err
    runs, requests, verdicts = await record(nats_server, "again")
    counted = Counter((r.experiment_id, r.commit, r.repeat) for r in runs)
    assert set(counted.values()) == {1}  # every run in the record once: the killed one was run again, nothing twice
    assert Counter(v.experiment_id for v in verdicts) == {"again-0000": 1, "again-0001": 1}
    assert [v.runs for v in verdicts if v.experiment_id == "again-0001"] == [2]
    assert len(results_rows(toy_workspace)) == 2


def service_of(up: int, name: str) -> int | None:
    """The pid of the service process `up` runs under that name."""
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == up:
                if f"service\0{name}".encode() in (proc / "cmdline").read_bytes():
                    return int(proc.name)
        except (OSError, ValueError):
            continue
    return None
