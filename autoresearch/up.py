"""`autoresearch up`: the embedded NATS server, the five services as processes, a clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import git
import nats
from rich.console import Console

from autoresearch.watch import CampaignWatcher
from services.trainer.main import durable
from shared.bus import STREAM, connect
from shared.embedded import EmbeddedNats, free_port
from shared.processes import die_with_parent

SERVICE_ORDER = ("ledger", "evaluator", "editor", "proposer", "trainer")
CONFIG_EXIT = 2
DEFAULT_NATS_PORT = 4222


class UpError(Exception):
    """`up` cannot start; the message says why and what to do."""


@dataclass
class UpOptions:
    """Everything `up` was asked to do."""

    workspace: Path
    tag: str
    train_command: str
    run_timeout: float
    max_experiments: int | None = None
    resume: bool = False
    gpu: str | None = None
    lookahead: int = 1
    proposers: int = 1
    proposer: str | None = None
    state_dir: Path | None = None
    http_port: int = 8750
    extra_env: dict[str, str] = field(default_factory=dict)


def check_workspace(options: UpOptions) -> None:
    """Refuse a workspace that is not a repository, or a tag whose branch exists without --resume."""
    try:
        repo = git.Repo(options.workspace)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UpError(f"{options.workspace} is not a git repository (create one with `autoresearch init DIR`)") from None
    if not repo.head.is_valid():
        raise UpError(f"{options.workspace} has no commits yet; commit prepare.py and train.py first")
    branch = f"autoresearch/{options.tag}"
    exists = f"refs/heads/{branch}" in {ref.path for ref in repo.references}
    if exists and not options.resume:
        raise UpError(f"branch {branch} already exists in {options.workspace}: choose another --tag, or pass --resume to continue that campaign")
    if options.resume and not exists:
        raise UpError(f"nothing to resume: branch {branch} does not exist in {options.workspace}")
    if not exists and not (options.workspace / "train.py").exists():
        raise UpError(f"{options.workspace} has no train.py")
    dirty = repo.git.status("--porcelain", "--untracked-files=no").strip()
    if dirty:
        raise UpError(f"{options.workspace} has uncommitted changes to tracked files; commit or stash them first:\n{dirty}")


def service_args(name: str, options: UpOptions, state_dir: Path, index: int = 0) -> list[str]:
    """The command line that starts one service process."""
    args = [sys.executable, "-m", "autoresearch", "service", name, "--state-dir", str(state_dir)]
    if name == "trainer":
        args += ["--workspace", str(options.workspace), "--tag", options.tag, "--train-command", options.train_command,
                 "--run-timeout", str(options.run_timeout), "--lookahead", str(options.lookahead)]
        args += ["--max-experiments", str(options.max_experiments)] if options.max_experiments is not None else []
        args += ["--gpu", options.gpu] if options.gpu is not None else []
    elif name == "ledger":
        args += ["--tag", options.tag, "--results", str(options.workspace / "results.tsv"), "--http-port", str(options.http_port)]
    elif name == "proposer":
        args += ["--instance", f"proposer-{index + 1}"]
        args += ["--proposer", options.proposer] if options.proposer else []
    return args


@dataclass
class Supervised:
    """A service process, restarted if it dies unexpectedly."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0

    async def start(self) -> None:
        with self.log_path.open("ab") as log_file:
            self.process = await asyncio.create_subprocess_exec(
                *self.args, env=self.env, stdout=log_file, stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent,
            )

    async def stop(self, timeout: float = 30.0) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()

    def last_lines(self, count: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-count:])
        return ""


def port_in_use(port: int) -> bool:
    """True when something already listens on 127.0.0.1:port."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def campaign_durables(tag: str) -> set[str]:
    """The durable consumers of the services `up` runs for one campaign."""
    return {"ledger", "evaluator", "editor", "proposer", durable("trainer-control", tag), durable("trainer-commits", tag)}


async def wait_until_drained(url: str, durables: set[str], timeout: float = 60.0) -> None:
    """Wait until the given durable consumers have handled every event (other campaigns' are not waited for)."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            consumers = [c for c in await js.consumers_info(STREAM) if c.config.durable_name in durables]
            if all(c.num_pending == 0 and c.num_ack_pending == 0 for c in consumers):
                return
            await asyncio.sleep(0.2)
    finally:
        await nc.close()


async def _prepare_stream(url: str) -> None:
    """Reach NATS (failing clearly if it cannot be reached) and make sure the stream exists."""
    try:
        bus = await connect(url, "autoresearch-up", os.environ.get("NATS_CREDS"), wait=15.0)
    except ConnectionError as exc:
        raise UpError(str(exc)) from None
    await bus.close()


async def _supervise(services: list[Supervised], stop: asyncio.Event, failure: list[str]) -> None:
    """Restart services that exit on their own; give up on configuration errors or crash loops."""
    while not stop.is_set():
        await asyncio.sleep(0.5)
        for service in services:
            code = service.process.returncode if service.process else None
            if code is None or stop.is_set():
                continue
            if code == CONFIG_EXIT or service.restarts >= 5:
                failure.append(f"the {service.name} service stopped (exit code {code}):\n{service.last_lines()}")
                stop.set()
                break
            service.restarts += 1
            await service.start()


async def run_up(options: UpOptions, console: Console) -> int:
    """Run a campaign until its experiment limit, Ctrl-C or SIGTERM; return the exit code."""
    check_workspace(options)
    state_dir = (options.state_dir or options.workspace / ".autoresearch").resolve()
    if options.http_port and port_in_use(options.http_port):
        busy, options.http_port = options.http_port, free_port()
        console.print(f"[yellow]port {busy} is taken; the ledger API uses {options.http_port} instead[/]")
    (state_dir / "logs").mkdir(parents=True, exist_ok=True)
    embedded = None
    url = os.environ.get("NATS_URL")
    if not url:
        # the standard port when it is free, so `autoresearch watch` and `nats sub` find it without a URL
        embedded = EmbeddedNats(state_dir / "nats", port=0 if port_in_use(DEFAULT_NATS_PORT) else DEFAULT_NATS_PORT)
        url = embedded.start()  # from this thread: the server must not outlive `up`
        console.print(f"[dim]embedded NATS at {url} (data in {embedded.data_dir})[/]")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    hangup = [signal.SIGHUP] if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN else []  # nohup keeps it running
    for sig in (signal.SIGINT, signal.SIGTERM, *hangup):
        loop.add_signal_handler(sig, stop.set)
    env = {**os.environ, **options.extra_env, "NATS_URL": url}
    services = []
    for name in SERVICE_ORDER:
        for index in range(options.proposers if name == "proposer" else 1):
            label = name if name != "proposer" or options.proposers == 1 else f"proposer-{index + 1}"
            services.append(Supervised(label, service_args(name, options, state_dir, index), env, state_dir / "logs" / f"{label}.log"))
    failure: list[str] = []
    watcher = CampaignWatcher(url, options.tag, console)
    try:
        await _prepare_stream(url)
        await watcher.start()
        for service in services:
            await service.start()
        if options.http_port:
            console.print(f"dashboard and API at http://127.0.0.1:{options.http_port} · logs in {state_dir / 'logs'}")
        supervisor = asyncio.create_task(_supervise(services, stop, failure))
        finished = asyncio.create_task(watcher.finished.wait())
        await asyncio.wait({finished, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
        if finished.done() and not stop.is_set():
            await wait_until_drained(url, campaign_durables(options.tag))
        stop.set()
        await supervisor
    finally:
        for service in reversed(services):
            await service.stop()
        await watcher.close()
        if embedded:
            await asyncio.to_thread(embedded.stop)
    if failure:
        console.print(f"[red]{failure[0]}[/]")
        return 1
    watcher.print_summary(options.workspace / "results.tsv")
    return 0
