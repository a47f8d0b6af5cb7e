"""A run cannot reach the trainer's state folder or the workspace by absolute path: its mount namespace covers them."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.trainer import containment
from services.trainer.containment import PID_NAMESPACE, Isolation, pid_namespace_flags, plan
from services.trainer.runner import run_training

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mount namespaces are Linux's"),
    pytest.mark.skipif(sys.platform.startswith("linux") and pid_namespace_flags() is None,
                       reason="unshare cannot make a PID and mount namespace here (needs root or user namespaces)"),
]
SECRET = "SUAEXAMPLENKEYSEEDTHATMUSTSTAYWITHTHETRAINER"
ENV = {"PATH": "/usr/bin:/bin"}
# Tries to lift the covers (a run as root would), then reads by absolute path; prints what it found.
SNOOP = """\
import subprocess, sys
for folder in sys.argv[1:3]:
    subprocess.run(["umount", folder], capture_output=True)
def look(path):
    try:
        return "found:" + open(path).read().strip()
    except OSError as exc:
        return type(exc).__name__
print("---\\nval_bpb: 1.0")
print("creds:", look(sys.argv[1] + "/creds/trainer.nk"))
print("head:", look(sys.argv[2] + "/.git/HEAD"))
print("notes:", look(sys.argv[2] + "/notes.txt"))
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A git workspace holding the trainer's state folder, a credential in it."""
    folder = tmp_path / "workspace"
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    (folder / ".autoresearch" / "creds").mkdir(parents=True, mode=0o700)
    (folder / ".autoresearch" / "creds" / "trainer.nk").write_text(SECRET)
    (folder / "notes.txt").write_text("workspace notes")
    return folder


@pytest.fixture
def room() -> Iterator[Path]:
    """A run's folder where clean rooms are made: in the temp folder, outside the workspace."""
    with tempfile.TemporaryDirectory(prefix="autoresearch-room-") as folder:
        yield Path(folder)


async def snoop(room: Path, workspace: Path, isolation: Isolation) -> dict[str, float | str]:
    """The run's findings, run held as isolation says."""
    command = f"{sys.executable} -I -c '{SNOOP}' {workspace / '.autoresearch'} {workspace}"
    outcome = await run_training(command, room, 30, ENV, room.parent / f"{room.name}.log", isolation=isolation)
    assert outcome.isolation == isolation.label
    return outcome.metrics


def mounted(folder: Path) -> bool:
    """True when the host has something mounted at folder."""
    return any(line.split()[4] == str(folder) for line in Path("/proc/self/mountinfo").read_text().splitlines())


async def test_a_run_finds_nothing_in_the_state_folder_or_the_workspace_by_absolute_path(workspace: Path, room: Path):
    state = workspace / ".autoresearch"
    open_run = await snoop(room, workspace, Isolation())  # no namespace: what a run sees without the covers
    assert open_run["creds"] == f"found:{SECRET}" and open_run["head"].startswith("found:ref:")

    isolation = plan(state_dir=state, workspace=workspace)
    assert "state-hidden" in isolation.label and "workspace-hidden" in isolation.label
    veiled = await snoop(room, workspace, isolation)
    assert veiled["val_bpb"] == 1.0  # the run ran
    assert veiled["creds"] in ("FileNotFoundError", "PermissionError")
    assert veiled["head"] in ("FileNotFoundError", "PermissionError")
    assert SECRET not in str(veiled)

    assert (state / "creds" / "trainer.nk").read_text() == SECRET  # the host still sees its files: nothing leaked
    assert (workspace / ".git" / "HEAD").exists()
    assert not mounted(state) and not mounted(workspace)


async def test_a_folder_that_holds_the_runs_room_stays_visible_and_is_not_called_hidden(
        workspace: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(tempfile, "tempdir", str(workspace / "rooms"))  # rooms made inside the workspace
    (workspace / "rooms").mkdir()
    isolation = plan(state_dir=workspace / ".autoresearch", workspace=workspace)
    assert "state-hidden" in isolation.label and "workspace-hidden" not in isolation.label
    with tempfile.TemporaryDirectory() as folder:
        found = await snoop(Path(folder), workspace, isolation)
    assert found["val_bpb"] == 1.0 and found["notes"] == "found:workspace notes"  # the room is reachable
    assert found["creds"] in ("FileNotFoundError", "PermissionError")


async def test_where_the_folders_cannot_be_covered_the_run_still_runs_and_is_not_called_hidden(
        workspace: Path, room: Path, monkeypatch: pytest.MonkeyPatch):
    # A user namespace whose user is not root there: it may make the namespaces, but not mount in them.
    unprivileged = ("--user", "--map-user=65534", "--map-group=65534")
    if not containment.unshare_works((*unprivileged, *PID_NAMESPACE)):
        pytest.skip("this machine makes no user namespace to try an unprivileged run in")
    monkeypatch.setattr(containment, "_namespace_flags", lambda: unprivileged)
    isolation = plan(state_dir=workspace / ".autoresearch", workspace=workspace)
    assert isolation.pid_namespace and "hidden" not in isolation.label
    room.chmod(0o755)  # the run's user there is nobody
    outcome = await run_training("printf -- '---\\nval_bpb: 1.0\\n'", room, 30, ENV, room / "run.log", isolation=isolation)
    assert outcome.status == "ok" and outcome.isolation == isolation.label
