"""A training run reading its trainer's /proc/<pid>/environ finds no LLM key: only proposers are given it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from autoresearch.up import service_environment
from tests.conftest import make_workspace

KEY = "sk-test-0123456789-do-not-leak"

# The run looks at every ancestor's environment, as hostile code on the trainer's host would.
SNOOPING_TRAIN_PY = f"""import os
from pathlib import Path
pid, seen = os.getppid(), []
while pid > 1:
    proc = Path("/proc") / str(pid)
    environ = (proc / "environ").read_bytes()
    command = (proc / "cmdline").read_bytes().replace(b"\\0", b" ")
    seen.append(("{KEY}".encode() in environ, command))
    pid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
leaks = [command.decode(errors="replace") for found, command in seen if found]
Path(os.environ["SNOOP_REPORT"]).write_text("\\n".join(leaks))
from prepare import evaluate_bpb  # the baseline's val_bpb must be prepare.py's, or it fails and ends the campaign
print("---")
print("val_bpb:", evaluate_bpb(0.0145))
"""


def test_only_proposers_get_the_llm_key_and_settings_every_service_keeps_nats():
    base = {"PATH": "/bin", "OPENAI_API_KEY": KEY, "AUTORESEARCH_LLM_MODEL": "m", "NATS_URL": "nats://x",
            "NATS_CREDS": "/c.creds", "HF_TOKEN": "hf", "AUTORESEARCH_LOOKAHEAD": "1"}
    assert service_environment(base, "proposer") == base
    for name in ("trainer", "editor", "evaluator", "ledger"):
        assert service_environment(base, name) == {
            "PATH": "/bin", "NATS_URL": "nats://x", "NATS_CREDS": "/c.creds", "AUTORESEARCH_LOOKAHEAD": "1"}


def test_a_training_run_finds_the_key_in_no_ancestor_under_up(tmp_path: Path, nats_server: str):
    workspace = make_workspace(tmp_path / "workspace", SNOOPING_TRAIN_PY)
    report = tmp_path / "leaks.txt"
    env = {**os.environ, "NATS_URL": nats_server, "OPENAI_API_KEY": KEY, "SNOOP_REPORT": str(report)}
    done = subprocess.run(
        [sys.executable, "-m", "autoresearch", "up", "--workspace", str(workspace), "--tag", "snoop",
         "--max-experiments", "0", "--http-port", "0", "--train-command", f"{sys.executable} train.py",
         "--pass-env", "SNOOP_REPORT"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert report.exists()  # the run did look: `up` and the shell that started it hold the key, the trainer must not
    leaks = report.read_text().splitlines()
    assert not [line for line in leaks if "service trainer" in line], leaks
