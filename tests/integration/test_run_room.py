"""Hostile train.py files run through the trainer's real workspace, clean room and runner: nothing they leave runs later.

Each attacker knows the workspace's absolute path (a run of the same user can learn it from /proc), so each
test shows what the room, git's inert settings and the hash check stop, not merely what the run cannot find.
"""

from __future__ import annotations

import functools
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from services.trainer.cleanroom import room_runner
from services.trainer.handlers import TrainerContext, log_path, train
from services.trainer.progress import CampaignProgress
from services.trainer.runner import run_training, training_environment
from services.trainer.workspace import Workspace
from shared.events import RunFinished
from shared.ids import experiment_id
from tests.conftest import git
from tests.fakes import FakePublisher

TAG = "room"
SUMMARY = 'print("---")\nprint("val_bpb: 1.0")\n'
INNOCENT = "import hashlib\n" + SUMMARY


def room_workspace(path: Path, files: dict[str, str]) -> Path:
    """A git repository holding files (train.py among them) in one commit."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "master")
    for name, text in files.items():
        (path / name).write_text(text)
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "workspace")
    return path


def commit_train(workspace: Path, parent: str, train_py: str) -> str:
    """A commit of parent with another train.py, as an imported bundle brings it: no branch moves, no hook is asked."""
    def plumbing(text: str, *args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@localhost", *args], cwd=workspace,
                              input=text, capture_output=True, text=True, check=True).stdout.strip()

    blob = plumbing(train_py, "hash-object", "-w", "--stdin")
    entries = [e for e in git(workspace, "ls-tree", parent).splitlines() if not e.endswith("\ttrain.py")]
    tree = plumbing("\n".join([*entries, f"100644 blob {blob}\ttrain.py"]) + "\n", "mktree")
    return plumbing("", "commit-tree", tree, "-p", parent, "-m", "experiment")


class Trainer:
    """The trainer's handlers over a real workspace, wired as services/trainer/main.py wires them."""

    def __init__(self, path: Path, pass_env: tuple[str, ...] = ()) -> None:
        self.workspace = Workspace(path, TAG)
        self.base = self.workspace.open_campaign()
        self.published = FakePublisher()
        run = functools.partial(
            run_training, f"{shlex.quote(sys.executable)} train.py", timeout=60,
            env=training_environment(dict(os.environ), None, pass_env), log_path=log_path(path),
        )
        self.ctx = TrainerContext(
            workspace=self.workspace, progress=CampaignProgress(TAG), publish=self.published,
            run=room_runner(self.workspace, run), ensure_commit=self.never_fetch, command="python train.py",
            producer="trainer/test",
        )

    @staticmethod
    async def never_fetch(commit: str) -> None:
        raise AssertionError("every commit is already in the workspace")

    async def run(self, train_py: str) -> RunFinished:
        """Run a new commit of train.py on the base, then discard it as a verdict would."""
        commit = commit_train(self.workspace.path, self.base, train_py)
        sequence = len(self.published.of(RunFinished)) + 1
        await train(self.ctx, experiment_id(TAG, sequence), commit, self.base, f"experiment {sequence}")
        self.workspace.reset_to(self.base, commit)
        return self.published.of(RunFinished)[-1]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return room_workspace(tmp_path / "workspace", {
        "prepare.py": "TIME_BUDGET = 1\n", "notes.txt": "read-only notes\n", "train.py": SUMMARY})


async def test_hooks_a_run_plants_never_run_on_later_checkouts_advances_or_resets(workspace: Path, tmp_path: Path):
    marker = tmp_path / "hook-ran"
    planting = f"""from pathlib import Path
for name in ("post-checkout", "post-commit", "post-merge", "reference-transaction", "pre-auto-gc"):
    hook = Path({str(workspace)!r}) / ".git" / "hooks" / name
    hook.write_text("#!/bin/sh\\necho " + name + " >> {shlex.quote(str(marker))}\\n")
    hook.chmod(0o755)
""" + SUMMARY
    trainer = Trainer(workspace)
    assert (await trainer.run(planting)).status == "ok"
    assert (workspace / ".git" / "hooks" / "post-checkout").exists()  # the run could write there

    later = commit_train(workspace, trainer.base, INNOCENT)
    await train(trainer.ctx, experiment_id(TAG, 2), later, trainer.base, "innocent")
    trainer.workspace.advance(later)
    trainer.workspace.reset_to(trainer.base, later)

    assert not marker.exists(), marker.read_text()
    assert trainer.published.of(RunFinished)[-1].status == "ok"


async def test_git_config_a_run_rewrites_runs_no_fsmonitor_filter_or_hook_and_moves_no_checkout(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
):
    home, elsewhere, marker = tmp_path / "home", tmp_path / "elsewhere", tmp_path / "git-ran"
    home.mkdir()
    elsewhere.mkdir()
    monkeypatch.setenv("HOME", str(home))  # the trainer's and the run's ~/.gitconfig
    tell = f"echo ran >> {shlex.quote(str(marker))}"
    rewriting = f"""import subprocess
from pathlib import Path
git_dir, home = Path({str(workspace)!r}) / ".git", Path({str(home)!r})
script = home / "run.sh"
script.write_text("#!/bin/sh\\n{tell}\\ncat\\n")
script.chmod(0o755)
(home / "hooks").mkdir()
(home / "hooks" / "post-checkout").write_text("#!/bin/sh\\n{tell}\\n")
(home / "hooks" / "post-checkout").chmod(0o755)
(git_dir / "info" / "attributes").write_text("* filter=evil\\n")
for file, key, value in [
    (git_dir / "config", "core.fsmonitor", str(script)), (git_dir / "config", "filter.evil.smudge", str(script)),
    (git_dir / "config", "filter.evil.clean", str(script)), (git_dir / "config", "filter.evil.required", "true"),
    (git_dir / "config", "core.worktree", {str(elsewhere)!r}), (home / ".gitconfig", "core.hooksPath", str(home / "hooks")),
]:
    subprocess.run(["git", "config", "--file", str(file), key, value], check=True)
""" + SUMMARY
    trainer = Trainer(workspace)
    assert (await trainer.run(rewriting)).status == "ok"
    assert "fsmonitor" in (workspace / ".git" / "config").read_text()  # the run could write there

    later = commit_train(workspace, trainer.base, INNOCENT)
    await train(trainer.ctx, experiment_id(TAG, 2), later, trainer.base, "innocent")
    trainer.workspace.advance(later)

    assert not marker.exists()
    assert (workspace / "train.py").read_text() == INNOCENT and not list(elsewhere.iterdir())
    assert trainer.published.of(RunFinished)[-1].status == "ok"


async def test_a_module_a_run_leaves_behind_is_not_imported_by_the_next_run(workspace: Path, tmp_path: Path):
    marker = tmp_path / "planted-hashlib-ran"
    module = f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\n"
    leaving = f"""from pathlib import Path
for folder in (Path("."), Path({str(workspace)!r})):
    (folder / "hashlib.py").write_text({module!r})
""" + SUMMARY
    trainer = Trainer(workspace)
    await trainer.run(leaving)
    assert (workspace / "hashlib.py").exists()

    innocent = await trainer.run(INNOCENT)

    assert innocent.status == "ok"
    assert not marker.exists()


@pytest.mark.parametrize("tampering, reason", [
    ('Path("prepare.py").write_text("TIME_BUDGET = 999\\n")', "prepare.py was changed by the run"),
    ('Path("notes.txt").unlink()', "notes.txt was changed by the run"),
    ('(WORKSPACE / "prepare.py").write_text("TIME_BUDGET = 999\\n")',
     "prepare.py was changed by the run (the workspace's copy)"),
])
async def test_a_run_that_changes_a_protected_file_crashes_and_the_next_run_sees_the_original(
    workspace: Path, tampering: str, reason: str,
):
    trainer = Trainer(workspace)
    tampered = await trainer.run(f"from pathlib import Path\nWORKSPACE = Path({str(workspace)!r})\n{tampering}\n{SUMMARY}")
    reading = await trainer.run(f'from prepare import TIME_BUDGET\n{SUMMARY}print(f"time_budget: {{TIME_BUDGET}}")\n')

    assert tampered.status == "crash"
    assert tampered.log_tail.splitlines()[-1] == f"autoresearch: {reason}"
    assert reading.status == "ok" and reading.metrics["time_budget"] == 1.0


async def test_a_run_finds_only_the_commits_files_and_no_state_folder_near_it(workspace: Path):
    (workspace / ".autoresearch").mkdir()
    (workspace / ".autoresearch" / "ledger.sqlite").write_text("every experiment")
    (workspace / "untracked.py").write_text("left by someone\n")
    looking = """import os
from pathlib import Path
here = Path.cwd()
found = [str(p) for p in (here, *here.parents) if (p / ".autoresearch").exists()]
found += [name for name in os.listdir("..") if name in (".autoresearch", ".git")]
found += [name for name in (".git", "run.log", "results.tsv") if os.path.lexists(name)]
""" + SUMMARY + """print("found:", ",".join(found) or "none")
print("files:", ",".join(sorted(os.listdir("."))))
"""
    trainer = Trainer(workspace)
    finished = await trainer.run(looking)

    assert finished.metrics["found"] == "none"
    assert finished.metrics["files"] == "notes.txt,prepare.py,train.py"
    assert "found: none" in (workspace / "run.log").read_text()  # the log stays where readers look for it
