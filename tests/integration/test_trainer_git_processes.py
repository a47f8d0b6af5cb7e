"""How many git processes one experiment costs the trainer: counted with a `git` on PATH that writes down each call.

A real workspace, a real bundle in a real object store, the real clean room and runner: from the commit's arrival
to its verdict applied, every git the trainer starts is one line in the log.
"""

from __future__ import annotations

import functools
import os
import shlex
import sys
from pathlib import Path

import pytest

from services.trainer.cleanroom import room_runner
from services.trainer.handlers import TrainerContext, log_path, on_commit_made, on_verdict_decided, run_baseline
from services.trainer.progress import CampaignProgress
from services.trainer.runner import run_training, training_environment
from services.trainer.workspace import Workspace
from shared.bus import Bus
from shared.events import CampaignStarted, CommitMade, RunFinished, VerdictDecided
from shared.gitobjects import commit_key, ensure_commit, upload_bundle
from shared.ids import experiment_id
from tests.conftest import git, make_workspace
from tests.fakes import FakePublisher

TAG = "count"
TRAIN_PY = 'print("---")\nprint("val_bpb: 1.0")\n'
# What one experiment may cost: import its bundle (3), show it in the working tree (1), move the branch back (3);
# its checks and its room read objects through the long-lived `git cat-file`, one more if that one restarts.
# The trainer started 19 for this before reads, ref changes and config checks were batched.
MOST_GIT_PER_EXPERIMENT = 8


def counting_git(folder: Path, log: Path) -> Path:
    """A folder holding a `git` that appends its arguments to log, then runs the real git."""
    real = next(Path(p) / "git" for p in os.environ["PATH"].split(os.pathsep) if (Path(p) / "git").is_file())
    folder.mkdir()
    script = folder / "git"
    script.write_text(f'#!/bin/sh\necho "$*" >> {shlex.quote(str(log))}\nexec {shlex.quote(str(real))} "$@"\n')
    script.chmod(0o755)
    return folder


def event_ids(sequence: int) -> dict[str, str]:
    return dict(campaign=TAG, producer="test/1", experiment_id=experiment_id(TAG, sequence))


async def test_one_experiment_starts_at_most_eight_git_processes(
    bus: Bus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
):
    source = make_workspace(tmp_path / "editor", TRAIN_PY)
    path = tmp_path / "workspace"
    git(tmp_path, "clone", "-q", str(source), str(path))
    workspace = Workspace(path, TAG)
    base = workspace.open_campaign()
    (source / "train.py").write_text(TRAIN_PY + "# deeper\n")
    git(source, "commit", "-q", "-am", "experiment: deeper")
    change = git(source, "rev-parse", "HEAD")
    await upload_bundle(bus, workspace.repo.__class__(source), commit_key(change), change, exclude=base)

    progress = CampaignProgress(TAG, lookahead=0)
    progress.apply(CampaignStarted(**event_ids(0), branch=workspace.branch, base_commit=base, bundle="none",
                                   lookahead=0))
    run = functools.partial(run_training, f"{shlex.quote(sys.executable)} train.py", timeout=60,
                            env=training_environment(dict(os.environ), None), log_path=log_path(path))
    ctx = TrainerContext(
        workspace=workspace, progress=progress, publish=FakePublisher(), run=room_runner(workspace, run),
        ensure_commit=lambda commit: ensure_commit(bus, workspace.repo, commit, TAG), command="python train.py",
        producer="trainer/test",
    )
    ctx.idle.set()
    await run_baseline(ctx)
    await on_verdict_decided(VerdictDecided(**event_ids(0), commit=base, status="keep", head=base, baseline=True), ctx)

    calls = tmp_path / "git-calls.log"
    monkeypatch.setenv("PATH", f"{counting_git(tmp_path / 'bin', calls)}{os.pathsep}{os.environ['PATH']}")
    made = CommitMade(**event_ids(1), commit=change, parent=base, message="experiment: deeper", description="deeper",
                      diff="", lines_added=1, lines_removed=0, bundle=commit_key(change))
    await on_commit_made(made, ctx)
    await on_verdict_decided(VerdictDecided(**event_ids(1), commit=change, status="discard", head=base), ctx)
    started = calls.read_text().splitlines()

    [finished] = [e for e in ctx.publish.of(RunFinished) if e.commit == change]
    assert finished.status == "ok"  # the experiment really ran, from its imported bundle
    assert workspace.head() == base and git(path, "rev-parse", f"refs/autoresearch/{TAG}/discarded/{change[:7]}") == change
    print(f"{len(started)} git processes:", *started, sep="\n  ")
    assert len(started) <= MOST_GIT_PER_EXPERIMENT, "\n".join(started)
