"""`autoresearch up` with its embedded server: only its own credentials get in, each service with its own."""

from __future__ import annotations

import asyncio
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import nats
from typer.testing import CliRunner

from autoresearch.cli import app
from shared.auth import public_key
from shared.credentials import connect_options
from tests.e2e.test_up import processes_mentioning, results_rows

LISTENING = re.compile(r"Listening for client connections on (127\.0\.0\.1:\d+)")


def start_up(workspace: Path, out: Path, *args: str) -> subprocess.Popen:
    """`up` with no NATS_URL, so it runs its own server, as a user would on one machine."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("NATS_")}
    command = [sys.executable, "-m", "autoresearch", "up", "--workspace", str(workspace), "--tag", "sealed",
               "--http-port", "0", "--train-command", f"{sys.executable} train.py", "--max-experiments", "1", *args]
    with out.open("w") as log:
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


async def embedded_url(state: Path, process: subprocess.Popen) -> str:
    """The URL the embedded server listens on, from its log (the last start in it)."""
    log = state / "nats" / "nats-server.log"
    for _ in range(600):
        found = LISTENING.findall(log.read_text()) if log.exists() else []
        if found:
            return f"nats://{found[-1]}"
        assert process.poll() is None, "up ended before its server was listening"
        await asyncio.sleep(0.05)
    raise AssertionError("the embedded server never listened")


class Heard:
    """nats-py's error callback, keeping what the server said."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    async def hear(self, exc: Exception) -> None:
        self.errors.append(str(exc).lower())

    def said(self, text: str) -> bool:
        return any(text in error for error in self.errors)


async def while_up_runs(process: subprocess.Popen, state: Path) -> list[str]:
    """Try the embedded server from outside while the campaign runs; return the command lines its processes showed."""
    url = await embedded_url(state, process)
    # Anyone with a socket and no credential is turned away.
    turned_away, anonymous = Heard(), None
    try:
        anonymous = await nats.connect(url, max_reconnect_attempts=1, reconnect_time_wait=0.1, error_cb=turned_away.hear)
    except nats.errors.NoServersError:
        pass
    assert anonymous is None and turned_away.said("authorization violation")
    # The watcher's credential reads every event and says none.
    verdicts: list[bytes] = []

    async def keep(msg) -> None:
        verdicts.append(msg.data)

    heard = Heard()
    monitor = await nats.connect(url, error_cb=heard.hear, **connect_options(state / "creds" / "monitor.nk"))
    await monitor.subscribe("verdict.decided", cb=keep)
    await monitor.publish("verdict.decided", b'{"forged": true}')
    await monitor.flush()
    cmdlines: list[str] = []
    for _ in range(1800):  # what every process of the campaign shows to other users while it runs
        cmdlines += processes_mentioning(str(state))
        if process.poll() is not None:
            break
        await asyncio.sleep(0.1)
    await monitor.close()
    assert heard.said('permissions violation for publish to "verdict.decided"')
    assert verdicts and all(b"forged" not in data for data in verdicts)
    return cmdlines


async def test_up_admits_only_its_credentials_and_resumes_a_store_made_before_them(toy_workspace: Path, tmp_path: Path) -> None:
    state, out = toy_workspace / ".autoresearch", tmp_path / "up.out"
    process = start_up(toy_workspace, out)
    try:
        cmdlines = await while_up_runs(process, state)
    finally:
        if process.poll() is None:  # a failed check must not leave the campaign running
            process.terminate()
        process.wait(60)
    assert process.returncode == 0, out.read_text()
    assert len(results_rows(toy_workspace)) == 2

    # The seeds stay in their files: folder 0700, files 0600, never in a command line, a log or the server's config.
    folder, monitor_file = state / "creds", state / "creds" / "monitor.nk"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    seeds = {path.name: path.read_text().strip() for path in folder.glob("*.nk")}
    assert len(seeds) == 7 and all(stat.S_IMODE((folder / name).stat().st_mode) == 0o600 for name in seeds)
    shown = "\n".join([out.read_text(), (folder / "nats.conf").read_text(), *cmdlines,
                       *(log.read_text() for log in (state / "logs").glob("*.log"))])
    assert str(monitor_file) in shown.replace("\n", "")  # `up` names the watcher's file
    assert not [name for name, seed in seeds.items() if seed in shown]
    assert public_key(monitor_file) in (folder / "nats.conf").read_text()

    # `autoresearch creds` names the watcher's file and prints a server configuration without secrets.
    runner = CliRunner()
    named = runner.invoke(app, ["creds", "monitor", "--state-dir", str(state)])
    assert named.exit_code == 0 and str(monitor_file.resolve()) in named.output and "sub 'run.*'" in named.output
    config = runner.invoke(app, ["creds", "config", "--state-dir", str(state)])
    assert config.exit_code == 0 and "authorization {" in config.output
    assert not [name for name, seed in seeds.items() if seed in config.output]

    # A state folder from before credentials (a store, no creds): `up --resume` makes them and carries on.
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    resumed = start_up(toy_workspace, tmp_path / "resumed.out", "--resume")
    assert await asyncio.to_thread(resumed.wait, 180) == 0, (tmp_path / "resumed.out").read_text()
    assert len(results_rows(toy_workspace)) == 3
    assert sorted(path.name for path in folder.glob("*.nk")) == sorted(seeds)
    assert not [name for name, seed in seeds.items() if (folder / name).read_text().strip() == seed]
