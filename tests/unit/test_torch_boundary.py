"""torch is an optional extra: the CLI and all five services load without importing it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LOAD_EVERYTHING = """
import sys
import autoresearch.cli, autoresearch.up, autoresearch.workspace
from autoresearch.services import SERVICES
for load in SERVICES.values():
    load()
loaded = [name for name in ("services.proposer.main", "services.editor.main", "services.trainer.main",
                            "services.evaluator.main", "services.ledger.main") if name not in sys.modules]
assert not loaded, f"not loaded: {loaded}"
assert "torch" not in sys.modules, "torch was imported"
"""


def test_the_cli_and_every_service_load_without_torch() -> None:
    done = subprocess.run([sys.executable, "-c", LOAD_EVERYTHING], cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr[-2000:]


def test_the_trainer_service_help_runs_without_torch() -> None:
    script = (
        "import runpy, sys\n"
        "sys.argv = ['autoresearch', 'service', 'trainer', '--help']\n"
        "try:\n    runpy.run_module('autoresearch', run_name='__main__')\n"
        "except SystemExit as stop:\n    assert not stop.code, stop.code\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr[-2000:]
    assert "--workspace" in done.stdout
