"""The next commit's room, built from git's objects in a real workspace while the current run trains."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from services.trainer.cleanroom import ROOM_PREFIX, room_runner
from services.trainer.handlers import TrainerContext, on_commit_made, on_verdict_decided
from services.trainer.progress import CampaignProgress
from services.trainer.runner import RunOutcome
from services.trainer.workspace import Workspace
from shared.events import CampaignStarted, CommitMade, CommitStale, ProposalRequested, VerdictDecided
from shared.gitobjects import import_ref
from shared.ids import experiment_id
from tests.conftest import git
from tests.fakes import FakePublisher
from tests.integration.test_run_room import commit_train, room_workspace
from tests.unit.test_trainer_handlers import NOW
from tests.unit.test_trainer_prefetch import until

TAG = "prefetch"
FILES = {"prepare.py": "TIME_BUDGET = 1\n", "train.py": "print('---')\n", "lib/deep/helper.py": "X = 1\n", "run.sh": "#!/bin/sh\n"}


def ids(sequence: int) -> dict[str, str]:
    return dict(campaign=TAG, producer="test/1", experiment_id=experiment_id(TAG, sequence))


def made(sequence: int, commit: str, parent: str) -> CommitMade:
    return CommitMade(**ids(sequence), commit=commit, parent=parent, message="experiment: x", description="x", diff="",
                      lines_added=1, lines_removed=1, bundle=f"commits/{commit}.bundle")


class FakeHeldRun:
    """Stands for the train command: notes the room each run got, and runs until released."""

    def __init__(self) -> None:
        self.rooms: list[Path] = []
        self.release = asyncio.Event()

    async def __call__(self, cwd: Path, on_progress=None, **labels) -> RunOutcome:
        self.rooms.append(cwd)
        await self.release.wait()
        return RunOutcome("ok", 0, {"val_bpb": 1.0}, "", NOW, NOW)


def trainer(path: Path) -> tuple[TrainerContext, FakeHeldRun]:
    workspace = Workspace(path, TAG)
    base = workspace.open_campaign()
    progress = CampaignProgress(TAG)
    for event in (CampaignStarted(**ids(0), branch=workspace.branch, base_commit=base, bundle="b", lookahead=1),
                  VerdictDecided(**ids(0), commit=base, status="keep", head=base, baseline=True),
                  ProposalRequested(**ids(1), base_commit=base, sequence=1),
                  ProposalRequested(**ids(2), base_commit=base, sequence=2)):
        progress.apply(event)

    async def present(commit: str) -> None:  # every commit is made in the workspace: only the import's ref is missing
        git(path, "update-ref", import_ref(commit), commit)

    run = FakeHeldRun()
    ctx = TrainerContext(workspace=workspace, progress=progress, publish=FakePublisher(), run=room_runner(workspace, run),
                         ensure_commit=present, command="sh run.sh", producer="trainer/test")
    ctx.idle.set()
    return ctx, run


def workspace_with(path: Path) -> Path:
    """A repository holding FILES (one of them nested, one executable) and a link, in one commit."""
    room_workspace(path, {"prepare.py": FILES["prepare.py"]})
    for name, text in FILES.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    (path / "run.sh").chmod(0o755)
    os.symlink("prepare.py", path / "link.py")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "nested, executable and linked files")
    return path


def rooms() -> set[Path]:
    """This process's clean rooms in the temp folder."""
    return set(Path(tempfile.gettempdir()).glob(f"{ROOM_PREFIX}{os.getpid()}-*"))


async def test_the_next_room_is_built_from_objects_before_the_verdict_and_removed_when_a_keep_makes_it_stale(
    tmp_path: Path,
):
    path = workspace_with(tmp_path / "workspace")
    ctx, run = trainer(path)
    base = ctx.workspace.head()
    first, second = commit_train(path, base, "print(1)\n"), commit_train(path, base, "print(2)\n")
    earlier = rooms()
    running = asyncio.create_task(on_commit_made(made(1, first, base), ctx))
    await until(lambda: len(run.rooms) == 1)
    waiting = asyncio.create_task(on_commit_made(made(2, second, base), ctx))
    await until(lambda: len(rooms() - earlier) == 2)
    [prepared] = rooms() - earlier - set(run.rooms)
    # the room's folder is made first and filled in a thread: wait until what a run needs is there
    await until(lambda: all((prepared / name).exists() for name in ("train.py", "lib/deep/helper.py", "run.sh")))

    assert (prepared / "train.py").read_text() == "print(2)\n"  # the next commit's files, while the first still runs
    assert (prepared / "lib" / "deep" / "helper.py").read_text() == "X = 1\n"
    assert os.access(prepared / "run.sh", os.X_OK) and not (prepared / "link.py").exists()
    assert (path / "train.py").read_text() == "print(1)\n"  # the working tree shows what runs now

    run.release.set()
    await running
    await on_verdict_decided(VerdictDecided(**ids(1), commit=first, status="keep", head=first), ctx)
    await waiting
    [stale] = ctx.publish.of(CommitStale)
    assert stale.commit == second and not prepared.exists() and len(run.rooms) == 1
    assert not git(path, "for-each-ref", "refs/autoresearch/objects/")  # no ref holds the stale commit's import


def test_a_change_to_a_nested_file_is_refused(tmp_path: Path):
    path = workspace_with(tmp_path / "workspace")
    workspace = Workspace(path, TAG)
    base = workspace.open_campaign()
    (path / "lib" / "deep" / "helper.py").write_text("X = 2\n")
    (path / "train.py").write_text("print(3)\n")
    git(path, "commit", "-qam", "helper too")
    refusal = workspace.refusal(git(path, "rev-parse", "HEAD"), base)
    assert refusal is not None and "lib/deep/helper.py" in refusal and "train.py" not in refusal.split(":", 1)[1]
    assert workspace.refusal(commit_train(path, base, "print(4)\n"), base) is None
