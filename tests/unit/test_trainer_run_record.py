"""The recorded run: found again after its trainer died, killed only while it is still that run; the shell's exec form."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.trainer.run_group import RunGroup
from services.trainer.run_record import RunRecord, kill_leftover, read_record, record_path, write_record
from services.trainer.shell import exec_form
from tests.unit.test_runner import alive

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def leftover_run(tmp_path: Path) -> tuple[subprocess.Popen, int]:
    """A run left behind: a shell in a session of its own with a background child, as a dead trainer would leave it."""
    shell = subprocess.Popen(["sh", "-c", "sleep 60 & echo $! > child.pid; wait"], cwd=tmp_path, start_new_session=True)
    child_file = tmp_path / "child.pid"
    for _ in range(500):
        if child_file.exists() and child_file.read_text().strip():
            break
        time.sleep(0.01)
    return shell, int(child_file.read_text())


def record_of(process: subprocess.Popen) -> RunRecord:
    group = RunGroup.led_by(process.pid)
    assert group is not None
    return RunRecord(group.pgid, process.pid, group.leader_start, group.boot, "2025-11-27T00:00:00+00:00",
                     "c1-0003", "3" * 40, "python train.py")


@linux_only
def test_a_recorded_leftover_run_is_killed_whole_and_its_record_removed(tmp_path: Path):
    shell, child = leftover_run(tmp_path)
    path = record_path(tmp_path / "state", "c1", tmp_path)
    write_record(path, record_of(shell))

    found = kill_leftover(path)

    shell.wait()
    assert found is not None
    record, killed = found
    assert (record.experiment_id, record.commit) == ("c1-0003", "3" * 40)
    assert set(killed) == {shell.pid, child}
    assert not alive(child)  # gone when kill_leftover returns, not some time later
    assert not path.exists()


@linux_only
def test_a_record_whose_pid_now_names_another_process_kills_nothing(tmp_path: Path):
    shell, child = leftover_run(tmp_path)
    path = record_path(tmp_path / "state", "c1", tmp_path)
    reused = dataclasses.replace(record_of(shell), leader_start=record_of(shell).leader_start - 1)
    write_record(path, reused)
    try:
        found = kill_leftover(path)
        assert found is not None and found[1] == []
        assert alive(shell.pid) and alive(child)
        assert not path.exists()
    finally:
        RunGroup.led_by(shell.pid).kill()
        shell.wait()


@linux_only
def test_a_record_from_before_a_reboot_kills_nothing(tmp_path: Path):
    shell, child = leftover_run(tmp_path)
    path = record_path(tmp_path / "state", "c1", tmp_path)
    write_record(path, dataclasses.replace(record_of(shell), boot="another-boot"))
    try:
        assert kill_leftover(path)[1] == []
        assert alive(child)
    finally:
        RunGroup.led_by(shell.pid).kill()
        shell.wait()


@linux_only
def test_members_whose_leader_is_gone_are_still_found_and_killed(tmp_path: Path):
    shell, child = leftover_run(tmp_path)
    group = RunGroup.led_by(shell.pid)
    subprocess.run(["kill", "-9", str(shell.pid)], check=True)
    shell.wait()  # the leader is reaped; its background child still holds the group

    assert group.members() == [child]
    assert group.kill() == [child]
    assert not alive(child)


def test_without_a_record_there_is_nothing_to_kill(tmp_path: Path):
    assert kill_leftover(tmp_path / "run.json") is None


def test_an_unreadable_record_is_set_aside(tmp_path: Path):
    path = tmp_path / "run.json"
    path.write_text("{not json")
    assert read_record(path) is None
    assert kill_leftover(path) is None and not path.exists()


def test_each_workspace_of_a_campaign_has_its_own_record(tmp_path: Path):
    first, second = (record_path(tmp_path, "c1", tmp_path / name) for name in ("gpu0", "gpu1"))
    assert first != second and first.parent == second.parent == tmp_path / "trainer" / "c1"


# exec_form

@pytest.mark.parametrize("command", [
    "uv run train.py", "uv run train.py > run.log 2>&1", "python -c 'import a; a.run()'", "python train.py # fast",
])
def test_a_simple_command_replaces_the_shell(command: str):
    assert exec_form(command) == f"exec {command}"


@pytest.mark.parametrize("command", [
    "python prep.py && python train.py", "sleep 60 & wait", "python train.py | tee log", "cd sub; python train.py",
    "(python train.py)", "FAST=1 python train.py", "if true; then python train.py; fi", "python train.py &>log",
    "python train.py\npython eval.py", "python 'train.py",
])
def test_anything_but_a_simple_command_is_left_to_the_shell(command: str):
    assert exec_form(command) == command


@linux_only
def test_the_exec_form_runs_the_program_in_place_of_the_shell(tmp_path: Path):
    shell = subprocess.Popen(["sh", "-c", exec_form(f"{sys.executable} -c 'import time; time.sleep(60)'")])
    try:
        for _ in range(500):
            cmdline = Path(f"/proc/{shell.pid}/cmdline").read_bytes().split(b"\0")
            if cmdline[0] not in (b"sh", b""):  # empty while exec is under way
                break
            time.sleep(0.01)
        assert cmdline[0] == sys.executable.encode()
    finally:
        shell.kill()
        shell.wait()
