"""What a run can reach: no secret in any process it can see, no network when asked, another user when asked."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.trainer import containment
from services.trainer.containment import Isolation, IsolationUnavailable, RunUser, plan
from services.trainer.environment import run_environment
from services.trainer.runner import run_training

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="namespaces, /proc")
PY = sys.executable
ROOT = Path(__file__).resolve().parents[2]
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing user needs root")

# Reads the environment of every process it can see in /proc, its ancestors first; prints what it found.
SNOOP = """\
import os, sys
secret, found, readable, pid = sys.argv[1].encode(), 0, 0, os.getppid()
ancestors = 0
while pid > 0:
    ancestors += 1
    try:
        pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
    except OSError:
        break
for entry in filter(str.isdigit, os.listdir("/proc")):
    try:
        environ = open(f"/proc/{entry}/environ", "rb").read()
    except OSError:
        continue
    readable += 1
    found += secret in environ
print(f"---\\nval_bpb: 1.0\\nleaks: {found}\\nreadable: {readable}\\nancestors: {ancestors}")
"""
TRAINER = """\
import asyncio, json, sys
from pathlib import Path
from services.trainer.containment import plan
from services.trainer.runner import run_training
outcome = asyncio.run(run_training(sys.argv[1], Path.cwd(), 30, {"PATH": "/usr/bin:/bin"}, Path("run.log"),
                                   isolation=plan()))
Path("outcome.json").write_text(json.dumps(outcome.metrics))
"""


def test_a_run_finds_no_secret_in_the_environment_of_any_process_it_can_see(tmp_path: Path):
    secret = f"sk-{uuid.uuid4().hex}"
    (tmp_path / "snoop.py").write_text(SNOOP)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": secret, "NATS_URL": f"nats://{secret}@bus:4222"}
    subprocess.run([PY, "-c", TRAINER, f"{PY} snoop.py {secret}"], cwd=tmp_path, env=env, check=True, timeout=60)
    metrics = json.loads((tmp_path / "outcome.json").read_text())
    assert metrics["readable"] >= 1  # it could read environments: its own at least
    assert metrics["leaks"] == 0  # but not its trainer's, nor any other ancestor's


@as_root
def test_a_process_that_keeps_its_secrets_private_hides_its_environment_from_its_own_user(tmp_path: Path):
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None:
        pytest.skip("no system python3 that another user may run")
    nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
    secret = f"sk-{uuid.uuid4().hex}"
    hold = "import sys, time; sys.path.insert(0, sys.argv[1]); import shared.processes as p; {} time.sleep(30)"
    targets = [subprocess.Popen([*nobody, python, "-c", hold.format(call), str(ROOT)], env={"OPENAI_API_KEY": secret},
                                stdout=subprocess.PIPE) for call in ("print(p.keep_secrets_private(), flush=True);", "print(flush=True);")]
    try:
        for target in targets:
            target.stdout.readline()  # the call is made
        read = "import sys\nfor pid in sys.argv[1:]:\n    try: print(open(f'/proc/{pid}/environ').read())\n    except OSError as e: print(e)"
        seen = subprocess.run([*nobody, python, "-c", read, *(str(t.pid) for t in targets)], capture_output=True,
                              text=True, timeout=30).stdout.splitlines()
    finally:
        for target in targets:
            target.kill()
            target.wait()
    assert secret not in seen[0] and "Permission denied" in seen[0]
    assert secret in seen[1]  # the same user reads a process that did not make itself private


@pytest.fixture
def listening() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts connections (its backlog does): its port."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


async def test_a_run_without_network_cannot_reach_a_local_server(tmp_path: Path, listening: int):
    try:
        isolation = plan(no_network=True)
    except IsolationUnavailable as exc:
        pytest.skip(str(exc))
    dial = (f"{PY} -c \"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {listening}), timeout=5); r = 'ok'\n"
            f"except OSError as e:\n    r = type(e).__name__\nprint('---'); print('val_bpb: 1'); print('connect:', r)\"")
    env = {"PATH": os.environ["PATH"]}
    cut = await run_training(dial, tmp_path, 30, env, tmp_path / "run.log", isolation=isolation)
    open_ = await run_training(dial, tmp_path, 30, env, tmp_path / "run.log", isolation=plan())
    assert open_.metrics["connect"] == "ok"  # the server is there for a run with the network
    assert cut.metrics["connect"] != "ok", cut.log_tail
    assert "no-network" in cut.isolation


def test_no_network_is_refused_where_no_network_namespace_can_be_made(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(containment.shutil, "which", lambda name, *a, **k: None if name == "unshare" else "/bin/" + name)
    containment._namespace_flags.cache_clear()
    try:
        with pytest.raises(IsolationUnavailable, match="--no-network"):
            plan(no_network=True)
    finally:
        containment._namespace_flags.cache_clear()


@pytest.fixture
def public_folder() -> Iterator[Path]:
    """A folder that every user may enter, unlike pytest's own temporary folders."""
    folder = Path(tempfile.mkdtemp(prefix="autoresearch-contain-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@as_root
async def test_a_run_as_nobody_runs_with_nobodys_uid_and_cannot_read_the_state_folder(public_folder: Path):
    state, room = public_folder / "state", public_folder / "room"
    state.mkdir(mode=0o700)
    (state / "creds").write_text("nats-secret")
    (state / "creds").chmod(0o644)  # even a readable file is out of reach behind its folder
    room.mkdir(mode=0o700)
    command = ("cat ../state/creds; touch made-by-run; "
               "printf -- '---\\nval_bpb: 1.0\\nuid: %s\\n' \"$(id -u)\"")
    outcome = await run_training(command, room, 30, {"PATH": "/usr/bin:/bin"}, public_folder / "run.log",
                                 isolation=plan(run_as="nobody", state_dir=state))
    nobody = pwd.getpwnam("nobody").pw_uid
    assert outcome.metrics["uid"] == nobody
    assert "Permission denied" in outcome.log_tail and "nats-secret" not in outcome.log_tail
    assert (room / "made-by-run").stat().st_uid == nobody  # the run's folder is writable by it
    assert room.stat().st_mode & stat.S_ISVTX  # but it cannot remove or rename what it did not make there


@as_root
def test_run_as_refuses_a_state_folder_the_run_user_could_read(public_folder: Path):
    (public_folder / "state").mkdir(mode=0o755)
    with pytest.raises(IsolationUnavailable, match="chmod 700"):
        plan(run_as="nobody", state_dir=public_folder / "state")


def test_the_isolation_label_names_every_layer_and_goes_into_the_run_environment(tmp_path: Path):
    held = Isolation(cgroup="v1", pid_namespace=True, no_network=True, run_as=RunUser("nobody", 65534, 65534, "/"))
    assert Isolation().label == "process-tree"
    assert held.label == "pid-namespace+cgroup-v1+no-network+run-as-nobody"
    assert run_environment("python train.py", tmp_path, None, "none", held.label)["isolation"] == held.label
    assert "isolation" not in run_environment("python train.py", tmp_path, None, "none")


def test_run_as_refuses_an_unknown_user():
    with pytest.raises(IsolationUnavailable, match="no such user"):
        plan(run_as=f"nobody-{uuid.uuid4().hex[:8]}")


def test_up_hands_the_isolation_asked_for_to_its_trainer_only():
    from autoresearch.up import UpOptions, service_args

    asked = UpOptions(workspace=Path("/w"), tag="t1", run_as="nobody", no_network=True)
    trainer = service_args("trainer", asked, Path("/s"))
    assert trainer[trainer.index("--run-as") + 1] == "nobody" and "--no-network" in trainer
    assert "--no-network" not in service_args("trainer", UpOptions(workspace=Path("/w"), tag="t1"), Path("/s"))
    assert "--run-as" not in service_args("editor", asked, Path("/s"))
