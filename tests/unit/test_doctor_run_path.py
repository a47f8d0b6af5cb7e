"""A run finds the uv that came with autoresearch even where the interpreter's folder is not on PATH."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from services.trainer.runner import run_path, run_training, training_environment

TOOLS = str(Path(sys.executable).parent)


def test_the_interpreters_folder_comes_last_so_the_runs_own_path_wins() -> None:
    assert run_path("/opt/bin:/usr/bin") == f"/opt/bin:/usr/bin:{TOOLS}"
    assert run_path(f"{TOOLS}:/usr/bin") == f"{TOOLS}:/usr/bin"  # already there: left where it is
    assert run_path(None) == f"{os.defpath}:{TOOLS}"  # no PATH: the shell's default still comes first


@pytest.mark.skipif(not (Path(TOOLS) / "uv").exists(), reason="uv is not installed beside this interpreter")
async def test_uv_run_starts_when_only_the_trainers_interpreter_folder_has_uv(tmp_path: Path) -> None:
    # the measured failure: `up` from an unactivated virtual environment, the baseline dead of "uv: not found"
    env = training_environment({"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, None)
    command = "uv --version && printf -- '---\\nval_bpb: 1.0\\n'"
    outcome = await run_training(command, tmp_path, 30, env, tmp_path / "run.log")
    assert outcome.status == "ok", outcome.log_tail
    assert (tmp_path / "run.log").read_text().startswith("uv ")
