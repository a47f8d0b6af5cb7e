"""No process of a run outlives it: daemons that call setsid or double-fork die at the run's end, at its
timeout and with a trainer killed by SIGKILL, however this machine holds runs (cgroup, PID namespace, reaper)."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from services.trainer.containment import Isolation, cgroup_works, detect, join_cgroup, pid_namespace_flags
from services.trainer.run_cgroup import RunCgroup, abandoned, own_cgroup, remove_abandoned
from services.trainer.runner import run_training

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
PY = sys.executable
# A hostile train.py: a daemon in a session of its own, a double-forked one, then the summary, or a long wait.
HOSTILE = """\
import os, sys, time
if os.fork() == 0:
    os.setsid()
    time.sleep(60)
    os._exit(0)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(60)
        os._exit(0)
    os._exit(0)
os.wait()
open("daemons-started", "w").close()
print("daemons started", flush=True)
if sys.argv[2] == "hang":
    time.sleep(60)
if sys.argv[2] == "escape" and os.getppid() > 1:  # its reaper dies: the double-forked daemon goes to init
    time.sleep(1.5)
    os.kill(os.getppid(), 9)
print("---")
print("val_bpb: 1.5")
"""
MODES = ["default", "process-tree", "cgroup-v2", "cgroup-v1", "pid-namespace", "detected"]


def isolation(mode: str) -> Isolation | None:
    """The isolation a mode names (None: run_training's default), or a skip where this machine lacks it."""
    if mode.startswith("cgroup-"):
        if not cgroup_works(mode[-2:]):
            pytest.skip(f"this machine gives no writable {mode} hierarchy")
        return Isolation(cgroup=mode[-2:])
    if mode == "pid-namespace":
        flags = pid_namespace_flags()
        if flags is None:
            pytest.skip("unshare cannot make a PID namespace here")
        return Isolation(unshare=flags, pid_namespace=True)
    return {"default": None, "process-tree": Isolation(), "detected": detect()}[mode]


def marked(token: str) -> list[int]:
    """Live processes (zombies left out) whose command line holds token, seen from the host's /proc."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and token.encode() in (proc / "cmdline").read_bytes():
                if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                    found.append(int(proc.name))
        except OSError:
            continue
    return found


def wait_for(check, within: float = 10.0) -> bool:
    """Poll check until it is true or within seconds have passed."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def hostile(tmp_path: Path, how: str) -> tuple[str, str]:
    """(the train command, the token in every one of its processes' command lines)."""
    (tmp_path / "hostile.py").write_text(HOSTILE)
    token = f"run-{uuid.uuid4().hex}"
    return f"{PY} hostile.py {token} {how}", token


async def run(tmp_path: Path, mode: str, command: str, timeout: float = 30):
    given = {} if (chosen := isolation(mode)) is None else {"isolation": chosen}
    return await run_training(command, tmp_path, timeout, {"PATH": os.environ["PATH"]}, tmp_path / "run.log", **given)


@pytest.mark.parametrize("mode", MODES)
async def test_daemons_of_a_finished_run_are_killed_with_it(tmp_path: Path, mode: str):
    command, token = hostile(tmp_path, "finish")
    outcome = await run(tmp_path, mode, command)
    assert (outcome.status, outcome.metrics.get("val_bpb")) == ("ok", 1.5), outcome.log_tail
    assert "daemons started" in outcome.log_tail
    assert marked(token) == []
    assert outcome.isolation == (isolation(mode) or Isolation()).label


@pytest.mark.parametrize("mode", ["default", "cgroup-v1", "pid-namespace", "detected"])
async def test_daemons_of_a_timed_out_run_are_killed_with_it(tmp_path: Path, mode: str):
    command, token = hostile(tmp_path, "hang")
    watch = asyncio.create_task(asyncio.to_thread(wait_for, lambda: (tmp_path / "daemons-started").exists()))
    outcome = await run(tmp_path, mode, command, timeout=1.5)
    assert await watch  # the run and both daemons were there before the timeout
    assert outcome.status == "timeout"
    assert marked(token) == []


async def test_daemons_of_a_cancelled_run_are_killed_with_it(tmp_path: Path):
    command, token = hostile(tmp_path, "hang")
    task = asyncio.create_task(run(tmp_path, "detected", command))
    assert await asyncio.to_thread(wait_for, lambda: (tmp_path / "daemons-started").exists())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert marked(token) == []


async def test_daemons_of_a_run_that_killed_its_reaper_are_killed_with_it(tmp_path: Path):
    command, token = hostile(tmp_path, "escape")
    outcome = await run(tmp_path, "process-tree", command)
    assert "daemons started" in outcome.log_tail
    assert marked(token) == []  # the guard saw them while the run went on


TRAINER = """\
import asyncio, sys
from pathlib import Path
from tests.integration.test_run_containment import isolation
from services.trainer.runner import run_training
given = {} if (chosen := isolation(sys.argv[2])) is None else {"isolation": chosen}
asyncio.run(run_training(sys.argv[1], Path.cwd(), 60, {"PATH": "/usr/bin:/bin"}, Path("run.log"),
                         record=Path("run.json"), **given))
"""


@pytest.mark.parametrize("mode", ["default", "cgroup-v1", "pid-namespace"])
def test_daemons_die_with_a_trainer_killed_by_sigkill(tmp_path: Path, mode: str):
    isolation(mode)  # skips where the machine lacks it
    command, token = hostile(tmp_path, "hang")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    trainer = subprocess.Popen([PY, "-c", TRAINER, command, mode], cwd=tmp_path, env=env)
    try:
        started = wait_for(lambda: (tmp_path / "daemons-started").exists() and (tmp_path / "run.json").exists())
    finally:
        trainer.kill()
        trainer.wait()
    assert started, (tmp_path / "run.log").read_text()
    assert wait_for(lambda: marked(token) == []), f"left behind: {marked(token)}"


# The trainer dies before the run's guard is there: the run's first process takes the rest with it.
UNGUARDED = """\
import asyncio, sys
from pathlib import Path
from tests.integration.test_run_containment import isolation
from services.trainer.launch import launch
from services.trainer.run_log import RunLog

async def main():
    await launch(sys.argv[1], Path.cwd(), {"PATH": "/usr/bin:/bin"}, RunLog(Path("run.log")), isolation(sys.argv[2]))
    await asyncio.sleep(60)
asyncio.run(main())
"""


@pytest.mark.parametrize("mode", ["cgroup-v1", "pid-namespace"])
def test_daemons_die_with_a_trainer_killed_before_the_guard_is_there(tmp_path: Path, mode: str):
    isolation(mode)
    command, token = hostile(tmp_path, "hang")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    trainer = subprocess.Popen([PY, "-c", UNGUARDED, command, mode], cwd=tmp_path, env=env)
    try:
        started = wait_for(lambda: (tmp_path / "daemons-started").exists())
    finally:
        trainer.kill()
        trainer.wait()
    assert started
    assert wait_for(lambda: marked(token) == [], within=5), f"left behind: {marked(token)}"
    remove_abandoned()  # what a trainer starting next does with the run's cgroup, now empty
    assert not [c for version in ("v1", "v2") for c in abandoned(version) if f"-run-{trainer.pid}-" in c.path.name]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_run_cgroup_left_by_a_trainer_that_is_gone_is_killed_and_removed(version: str):
    if not cgroup_works(version):
        pytest.skip(f"this machine gives no writable cgroup {version} hierarchy")
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid names no trainer any more
    base = own_cgroup(version)
    assert base is not None
    cgroup = RunCgroup(base / f"autoresearch-run-{gone.pid}-{uuid.uuid4().hex[:8]}", version)
    cgroup.path.mkdir()
    sleeper = subprocess.Popen(["sleep", "60"], preexec_fn=functools.partial(join_cgroup, cgroup))
    try:
        remove_abandoned()
        assert sleeper.wait(timeout=10) == -signal.SIGKILL
    finally:
        sleeper.kill()
    assert not cgroup.path.exists()
