"""The training runner: summary parsing, terminal-style logs, a clean environment, real subprocesses."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.trainer.runner import (
    last_step, parse_summary, run_training, screen_lines, tail, training_environment,
)

SUMMARY = "---\nval_bpb:          0.997900\ntraining_seconds: 300.1\npeak_vram_mb:     45060.2\ndevice: cuda\n"


def alive(pid: int) -> bool:
    """True while pid runs; a zombie waiting for a reaper counts as gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_until_gone(pid: int, within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return False


# parse_summary

def test_summary_reads_floats_and_strings_after_the_separator():
    metrics = parse_summary("warming up\n" + SUMMARY)
    assert metrics == {"val_bpb": 0.9979, "training_seconds": 300.1, "peak_vram_mb": 45060.2, "device": "cuda"}
    assert isinstance(metrics["val_bpb"], float)


def test_summary_uses_only_the_block_after_the_last_separator():
    text = "---\nval_bpb: 5.0\nstale: 1\n---\nval_bpb: 1.25\n"
    assert parse_summary(text) == {"val_bpb": 1.25}


def test_summary_without_a_separator_is_empty():
    assert parse_summary("val_bpb: 0.9\n") == {}


def test_summary_ignores_junk_lines():
    text = "---\nval_bpb: 0.9\nno colon here\nkey with spaces: 3\n: 4\nempty:\n\nsteps: 12\n"
    assert parse_summary(text) == {"val_bpb": 0.9, "steps": 12.0}


def test_summary_separator_must_be_the_whole_line():
    assert parse_summary("----\nval_bpb: 0.9\n--- x\nloss: 1\n") == {}


def test_summary_sees_a_separator_after_carriage_return_progress():
    assert parse_summary("\rstep 1\rstep 2\n---\nval_bpb: 0.8\n") == {"val_bpb": 0.8}


def test_nan_val_bpb_parses_as_nan():
    assert math.isnan(parse_summary("---\nval_bpb: nan\n")["val_bpb"])


# screen_lines, tail, last_step

def test_carriage_return_keeps_only_the_last_overwrite():
    assert screen_lines("\rstep 1\rstep 2\rstep 3\ndone") == ["step 3", "done"]


def test_trailing_carriage_return_keeps_the_last_progress_line():
    assert screen_lines("step 1\rstep 2\r\ndone") == ["step 2", "done"]


def test_windows_line_endings_are_plain_lines():
    assert screen_lines("a\r\nb\r\n") == ["a", "b", ""]


def test_tail_returns_the_last_lines_without_trailing_blanks():
    text = "".join(f"line {i}\n" for i in range(100)) + "\n\n"
    shown = tail(text, 3)
    assert shown == "line 97\nline 98\nline 99"


def test_tail_shows_progress_as_a_terminal_would():
    assert tail("start\n\rstep 1 | loss: 3\rstep 2 | loss: 2\nboom\n") == "start\nstep 2 | loss: 2\nboom"


def test_last_step_reads_step_percent_and_loss():
    text = "\rstep 00001 (10.0%) | loss: 3.100000\rstep 00002 (20.5%) | loss: 2.900000 | lr: 1e-3"
    assert last_step(text) == (2, 20.5, 2.9)


def test_last_step_without_percent():
    assert last_step("step 7 | loss: 1.5e-1\n") == (7, None, 0.15)


def test_last_step_without_progress_is_none():
    assert last_step("loading data\nstep: warming up\n") is None


# training_environment

def test_environment_strips_secrets_and_bus_settings():
    base = {"PATH": "/bin", "HOME": "/root", "OPENAI_API_KEY": "sk", "ANTHROPIC_API_KEY": "ak", "NATS_CREDS": "c",
            "NATS_URL": "nats://x", "AUTORESEARCH_TAG": "t", "AUTORESEARCH_LLM_MODEL": "m", "HF_TOKEN": "h"}
    env = training_environment(base, None)
    assert env == {"PATH": "/bin", "HOME": "/root"}
    assert "OPENAI_API_KEY" in base  # the caller's dict is left alone


def test_environment_pins_the_gpu_when_given():
    env = training_environment({"PATH": "/bin", "CUDA_VISIBLE_DEVICES": "0,1"}, "3")
    assert env["CUDA_VISIBLE_DEVICES"] == "3"


def test_environment_inherits_the_gpu_when_none_given():
    assert training_environment({"CUDA_VISIBLE_DEVICES": "1"}, None) == {"CUDA_VISIBLE_DEVICES": "1"}


# run_training with real commands

def env() -> dict[str, str]:
    return training_environment(dict(os.environ), None)


async def test_run_with_a_summary_is_ok(tmp_path: Path):
    command = f"echo training; printf -- '{SUMMARY}'"
    outcome = await run_training(command, tmp_path, 10, env(), tmp_path / "run.log")
    assert outcome.status == "ok"
    assert outcome.exit_code == 0
    assert outcome.metrics["val_bpb"] == 0.9979
    assert outcome.log_tail.startswith("training\n---")
    assert (tmp_path / "run.log").read_text().startswith("training\n")
    assert outcome.finished_at >= outcome.started_at


async def test_run_sees_only_the_clean_environment(tmp_path: Path):
    command = "printf -- '---\\nval_bpb: 1.0\\nkey: %s\\n' \"${OPENAI_API_KEY:-absent}\""
    outcome = await run_training(command, tmp_path, 10, training_environment({"PATH": os.environ["PATH"],
                                 "OPENAI_API_KEY": "sk-leak"}, None), tmp_path / "run.log")
    assert outcome.metrics["key"] == "absent"


async def test_nonzero_exit_is_a_crash_even_with_a_summary(tmp_path: Path):
    command = "printf -- '---\\nval_bpb: 0.9\\n'; echo 'Traceback: boom' >&2; exit 3"
    outcome = await run_training(command, tmp_path, 10, env(), tmp_path / "run.log")
    assert outcome.status == "crash"
    assert outcome.exit_code == 3
    assert "Traceback: boom" in outcome.log_tail


async def test_run_without_val_bpb_is_a_crash(tmp_path: Path):
    outcome = await run_training("printf -- '---\\nloss: 2.0\\n'", tmp_path, 10, env(), tmp_path / "run.log")
    assert (outcome.status, outcome.exit_code) == ("crash", 0)


async def test_nan_val_bpb_is_a_crash(tmp_path: Path):
    outcome = await run_training("printf -- '---\\nval_bpb: nan\\n'", tmp_path, 10, env(), tmp_path / "run.log")
    assert (outcome.status, outcome.exit_code) == ("crash", 0)


async def test_timeout_kills_the_whole_process_group(tmp_path: Path):
    command = "echo $$ > shell.pid; sleep 60 & echo $! > child.pid; echo started; wait; echo finished"
    outcome = await run_training(command, tmp_path, 0.5, env(), tmp_path / "run.log")
    shell, child = (int((tmp_path / name).read_text()) for name in ("shell.pid", "child.pid"))
    assert outcome.status == "timeout"
    assert outcome.exit_code == -signal.SIGKILL  # the shell was killed, not left to finish its wait
    assert "started" in outcome.log_tail and "finished" not in outcome.log_tail
    assert not alive(shell)
    assert wait_until_gone(child)


async def test_stray_children_of_a_finished_run_are_killed(tmp_path: Path):
    command = "sleep 60 & echo $! > child.pid; printf -- '---\\nval_bpb: 1.0\\n'"
    outcome = await run_training(command, tmp_path, 10, env(), tmp_path / "run.log")
    assert outcome.status == "ok"
    assert wait_until_gone(int((tmp_path / "child.pid").read_text()))


async def test_cancelled_run_kills_its_process_group(tmp_path: Path):
    command = "sleep 60 & echo $! > child.pid; wait"
    task = asyncio.create_task(run_training(command, tmp_path, 30, env(), tmp_path / "run.log"))
    pid_file = tmp_path / "child.pid"
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert wait_until_gone(int(pid_file.read_text()))


async def test_progress_is_reported_while_the_run_goes_on(tmp_path: Path):
    seen: list[tuple[int, float | None, float | None]] = []

    async def on_progress(step: int, percent: float | None, loss: float | None) -> None:
        seen.append((step, percent, loss))

    command = "printf '\\rstep 00003 (30.0%%) | loss: 2.500000'; sleep 0.4; printf -- '\\n---\\nval_bpb: 1.0\\n'"
    outcome = await run_training(command, tmp_path, 10, env(), tmp_path / "run.log", on_progress, progress_every=0.05)
    assert outcome.status == "ok"
    assert seen and seen[0] == (3, 30.0, 2.5)
    assert len(seen) == 1  # the same step is reported once


# a trainer killed while its run trains

SLEEPER = "import os, sys, time\nopen(sys.argv[1], 'w').write(str(os.getpid()))\ntime.sleep(60)\n"
TRAINER = (
    "import asyncio, os, sys\nfrom pathlib import Path\n"
    "from services.trainer.runner import run_training, training_environment\n"
    "env = training_environment(dict(os.environ), None)\n"
    "asyncio.run(run_training(sys.argv[1], Path.cwd(), 60, env, Path('run.log'), record=Path('run.json')))\n"
)
PY = sys.executable


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("command", [
    f"{PY} sleeper.py run.pid",  # one program: the shell becomes it
    f"sh -c '{PY} sleeper.py run.pid'",  # a shell of its own that forks the program
    f"sleep 60 & echo $! > run.pid; {PY} sleeper.py leader.pid",  # a background child beside the program
])
def test_no_process_of_a_run_outlives_a_trainer_killed_with_sigkill(tmp_path: Path, command: str):
    (tmp_path / "sleeper.py").write_text(SLEEPER)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    trainer = subprocess.Popen([PY, "-c", TRAINER, command], cwd=tmp_path, env=env)
    try:
        pid_file = tmp_path / "run.pid"
        for _ in range(500):
            if pid_file.exists() and pid_file.read_text().strip() and (tmp_path / "run.json").exists():
                break
            time.sleep(0.01)
        run = int(pid_file.read_text())
        assert alive(run)
    finally:
        trainer.kill()
        trainer.wait()
    assert wait_until_gone(run)
    assert (tmp_path / "run.json").exists()  # the trainer died: its record is left for the next one to check


async def test_a_huge_log_line_and_many_metrics_still_make_a_run_finished_that_fits(tmp_path: Path):
    from datetime import UTC, datetime

    from shared.events import MAX_PAYLOAD, RunFinished

    script = tmp_path / "noisy.py"
    script.write_text(
        "import sys\n"
        "sys.stdout.write('x' * 3_000_000 + '\\n')\n"
        "print('---')\n"
        "print('val_bpb: 0.9')\n"
        "for i in range(500):\n"
        "    print(f'metric_{i}: ' + 'y' * 600)\n"
        "print('k' * 100 + ': 1')\n"
        "sys.stdout.write('z' * 300_000 + '\\n')\n"
    )
    outcome = await run_training(f"{sys.executable} {script}", tmp_path, 30, dict(os.environ), tmp_path / "run.log")
    now = datetime.now(UTC)
    event = RunFinished(campaign="c1", experiment_id="c1-0001", producer="test/1", commit="a" * 40, status=outcome.status,
                        metrics=outcome.metrics, log_tail=outcome.log_tail, started_at=now, finished_at=now)
    assert outcome.status == "ok" and outcome.metrics["val_bpb"] == 0.9
    assert len(event.model_dump_json().encode()) < MAX_PAYLOAD
    assert "k" * 100 not in outcome.metrics and all(len(str(value)) <= 500 for value in outcome.metrics.values())
