"""The chaos benchmark's workspace: a train.py that notes each run's start and end in a log outside it, and reading that log."""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
from pathlib import Path

from recording import commit_workspace

LOGGING_TRAIN_PY = '''"""A stand-in training run of 0.3 to 1 s that notes its start and end (commit, pid, time) in a log outside the workspace."""
import fcntl
import hashlib
import json
import math
import os
import random
import subprocess
import sys
import time

LEARNING_RATE = 0.01
BATCH_SIZE = 16
DEPTH = 4
WARMUP_STEPS = 10
WEIGHT_DECAY = 0.1
RUN_LOG = @RUN_LOG@


def commit():
    """The commit being run: git's HEAD, else the hash of this file's text."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head = ""
    with open(__file__, "rb") as source:
        return head or "content:" + hashlib.sha1(source.read()).hexdigest()


def note(**fields):
    with open(RUN_LOG, "a") as log:
        log.write(json.dumps(fields) + "\\n")


me = {"commit": commit(), "pid": f"{os.getpid()}-{os.urandom(4).hex()}"}  # a pid alone repeats: runs in a PID namespace are all pid 1
lock = open(RUN_LOG + ".lock", "a")  # held while this run lives: a second run at the same time cannot take it
try:
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    alone = True
except OSError:
    alone = False
note(event="start", time=time.time(), alone=alone, **me)
time.sleep(random.uniform(0.3, 1.0))
if DEPTH > 6:
    print("RuntimeError: out of memory (DEPTH too large)")
    note(event="end", time=time.time(), **me)
    sys.exit(1)
val_bpb = (1.0 + (math.log10(LEARNING_RATE) - math.log10(0.0145)) ** 2 + 0.004 * (DEPTH - 6) ** 2
           + 0.003 * abs(math.log2(BATCH_SIZE / 32)) + 0.0002 * abs(WARMUP_STEPS - 25) + 0.01 * abs(WEIGHT_DECAY - 0.05))
print("---")
print(f"val_bpb: {val_bpb:.6f}")
print(f"peak_vram_mb: {100.0 * DEPTH * BATCH_SIZE / 16:.1f}")
note(event="end", time=time.time(), **me)
'''


def make_logging_workspace(path: Path, run_log: Path) -> None:
    """A git workspace whose train.py takes 0.3 to 1 s, has five constants to tune, and logs each run to run_log."""
    commit_workspace(path, LOGGING_TRAIN_PY.replace("@RUN_LOG@", repr(str(run_log))))


def read_run_log(run_log: Path) -> list[dict]:
    """The start and end notes the logging train.py wrote, in order."""
    if not run_log.exists():
        return []
    notes = []
    for line in run_log.read_text().splitlines():
        with contextlib.suppress(ValueError):  # a run killed while writing leaves half a line
            notes.append(json.loads(line))
    return notes


def commit_of(note: dict, workspace: Path, commits: set[str]) -> str:
    """The commit a run note names; a note that could only hash train.py is matched to the commit holding that text."""
    if not note["commit"].startswith("content:"):
        return note["commit"]
    for commit in commits:
        text = subprocess.run(["git", "show", f"{commit}:train.py"], cwd=workspace, capture_output=True).stdout
        if "content:" + hashlib.sha1(text).hexdigest() == note["commit"]:
            return commit
    return note["commit"]
