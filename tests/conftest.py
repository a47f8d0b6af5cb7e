"""Fixtures shared by every tier: a real nats-server, git workspaces, a toy train.py."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.auth import BusCredentials
from shared.bus import Bus, connect
from shared.embedded import EmbeddedNats

FIXTURES = Path(__file__).parent / "fixtures"
TOY_PREPARE = (FIXTURES / "toy_prepare.py").read_text()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[str]:
    """A real nats-server with JetStream on a free port and a temporary store."""
    server = EmbeddedNats(tmp_path / "nats")
    url = server.start()
    yield url
    server.stop()


@dataclass(frozen=True)
class AuthNats:
    """A running nats-server that admits only the project's credentials, and those credentials."""

    url: str
    credentials: BusCredentials

    def creds(self, role: str) -> str:
        """The credentials file of a role (admin, a service, monitor)."""
        return self.credentials.file(role)


@pytest.fixture
def auth_nats_server(tmp_path: Path) -> Iterator[AuthNats]:
    """A real nats-server with JetStream, each role's nkey and the permissions `up` gives its own server; no streams yet."""
    credentials = BusCredentials.prepare(tmp_path / "creds")
    server = EmbeddedNats(tmp_path / "auth-nats", config=credentials.config)
    url = server.start()
    yield AuthNats(url, credentials)
    server.stop()


@pytest.fixture
async def bus(nats_server: str) -> AsyncIterator[Bus]:
    """A connected bus with the project's stream."""
    connected = await connect(nats_server, "test/fixture")
    yield connected
    await connected.close()


def git(path: Path, *args: str) -> str:
    """Run git in path with a fixed identity and return its output."""
    done = subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@localhost", *args],
        cwd=path, capture_output=True, text=True, check=True,
    )
    return done.stdout.strip()


def make_workspace(path: Path, train_py: str) -> Path:
    """A git repository with prepare.py and the given train.py in one commit."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "master")
    (path / "prepare.py").write_text(TOY_PREPARE)
    (path / "train.py").write_text(train_py)
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "workspace")
    return path


@pytest.fixture
def toy_workspace(tmp_path: Path) -> Path:
    """A workspace whose train.py runs in a fraction of a second."""
    return make_workspace(tmp_path / "workspace", (FIXTURES / "toy_train.py").read_text())
