"""`autoresearch up` with its trainer killed by SIGKILL mid-run: one training process at a time, the limit unmoved."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git
from tests.e2e.test_up import results_rows
from tests.unit.test_runner import alive

# Each step sleeps as long as the file `pace` beside the workspace says (every commit's run reads it by its
# absolute path: a run happens in a clean room, and the workspace itself is hidden from it); a run that finds
# it says so in `paced`, so the test knows a run is in a long step before it kills the trainer.
PACED = (
    "import os\nimport pathlib\nimport time\n"
    "PACE = pathlib.Path(@PACE@)\n"
    "def pause():\n"
    "    if PACE.exists():\n"
    "        PACE.with_name('paced').write_text(str(os.getpid()))\n"
    "        time.sleep(float(PACE.read_text()))\n"
    "    else:\n"
    "        time.sleep(0.1)\n"
)


def training_processes(rooms: Path) -> list[int]:
    """Live `python train.py` processes in a clean room under rooms (a shell around one is not counted)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if argv[-2:] == [b"train.py", b""] and Path(os.readlink(proc / "cwd")).parent == rooms:
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def trainer_of(up: int) -> int | None:
    """The trainer process that `up` (pid) runs now."""
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == up:
                if b"service\0trainer" in (proc / "cmdline").read_bytes():
                    return int(proc.name)
        except (OSError, ValueError):
            continue
    return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_a_trainer_killed_mid_run_leaves_one_run_at_a_time_and_the_limit_unmoved(
    toy_workspace: Path, nats_server: str,
) -> None:
    train_py = (toy_workspace / "train.py").read_text()
    pacing = PACED.replace("@PACE@", repr(str(toy_workspace.parent / "pace")))
    train_py = train_py.replace("import time\n", pacing, 1).replace("time.sleep(0.05)", "pause()")
    (toy_workspace / "train.py").write_text(train_py)
    git(toy_workspace, "commit", "-qam", "paced toy")
    rooms = toy_workspace.parent / "rooms"  # the temp folder of this campaign's runs
    rooms.mkdir()
    env = {**os.environ, "NATS_URL": nats_server, "TMPDIR": str(rooms)}
    command = [sys.executable, "-m", "autoresearch", "up", "--workspace", str(toy_workspace), "--tag", "kill9",
               "--http-port", "0", "--train-command", f"{sys.executable} train.py", "--max-experiments", "4"]
    up = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    most_at_once = 0

    async def watch_process_table() -> None:
        nonlocal most_at_once
        while True:
            most_at_once = max(most_at_once, len(training_processes(rooms)))
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch_process_table())
    pace, paced = toy_workspace.parent / "pace", toy_workspace.parent / "paced"
    try:
        results = toy_workspace / "results.tsv"
        for _ in range(600):  # the baseline and one experiment decided: a limit recomputed at restart would move
            if results.exists() and len(results.read_text().splitlines()) >= 3:
                break
            await asyncio.sleep(0.05)
        pace.write_text("60")
        for _ in range(600):
            if paced.exists() and paced.read_text():
                break
            await asyncio.sleep(0.05)
        # the pid the run wrote is its own namespace's; the host's is the one training in a room now
        [run], trainer = training_processes(rooms), trainer_of(up.pid)
        assert alive(run) and trainer is not None
        os.kill(trainer, 9)
        pace.unlink()  # the run again after the restart takes its usual time
        for _ in range(200):
            if not alive(run):
                break
            await asyncio.sleep(0.05)
        assert not alive(run)  # the killed trainer's run died with it: no orphan trains on
        out, err = await asyncio.to_thread(up.communicate, timeout=120)
    finally:
        watcher.cancel()
        if up.poll() is None:
            up.kill()
            up.wait()
    assert up.returncode == 0, out + err
    assert most_at_once == 1
    rows = results_rows(toy_workspace)
    assert len(rows) == 1 + 4
    assert len({row[0] for row in rows}) == len(rows)
    trainer_log = (toy_workspace / ".autoresearch" / "logs" / "trainer.log").read_text()
    assert "leftover run" in trainer_log  # the restarted trainer found the run its predecessor recorded
