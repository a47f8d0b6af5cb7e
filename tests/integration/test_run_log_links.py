"""run.log is the trainer's own file: a link a run puts in its place is neither followed when written nor read back."""

from __future__ import annotations

import sys
from pathlib import Path

from services.trainer.run_log import RunLog
from services.trainer.runner import run_training

# Replaces the trainer's run.log, by the absolute path a run can learn, with a link to a file holding a secret.
SWAP = """\
import os, sys
log, secret = sys.argv[1], sys.argv[2]
os.unlink(log)
os.symlink(secret, log)
print("---")
print("val_bpb: 0.750000")
"""


def test_a_link_left_at_run_log_is_replaced_not_written_through(tmp_path: Path):
    secret = tmp_path / "bashrc"
    secret.write_text("export PATH=/usr/bin\n")
    log_path = tmp_path / "run.log"
    log_path.symlink_to(secret)  # what an earlier run left behind
    log = RunLog(log_path)
    log.write(b"---\nval_bpb: 1.0\n")
    log.close()
    assert secret.read_text() == "export PATH=/usr/bin\n"
    assert not log_path.is_symlink() and log_path.read_bytes() == b"---\nval_bpb: 1.0\n"


async def test_a_run_that_swaps_run_log_for_a_link_cannot_read_a_file_into_its_result(tmp_path: Path):
    secret = tmp_path / "id_ed25519"
    secret.write_text("---\nval_bpb: 0.000001\nPRIVATE KEY\n")
    room, log_path = tmp_path / "room", tmp_path / "workspace" / "run.log"
    room.mkdir()
    log_path.parent.mkdir()
    (room / "swap.py").write_text(SWAP)
    command = f"{sys.executable} swap.py {log_path} {secret}"
    outcome = await run_training(command, room, 30.0, {"PATH": "/usr/bin:/bin"}, log_path)
    assert "PRIVATE KEY" not in outcome.log_tail
    assert outcome.metrics.get("val_bpb") == 0.75 and outcome.status == "ok"
    assert secret.read_text().endswith("PRIVATE KEY\n")
