"""`autoresearch up`: the embedded NATS server, the five services as processes, a clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nats
from rich.console import Console

from autoresearch.access import UpAccess
from autoresearch.finish import FailedBaseline, failed_baseline, wait_for_finish
from autoresearch.proposer_scaling import DEFAULT_MAX_PROPOSERS, ProposerScaling
from autoresearch.supervision import Supervised, beating, keep_nats_up, start_in_turn, stop_all, supervise
from autoresearch.tail import EventTail, TailError
from autoresearch.views import EventLines, campaign_view, print_failed_baseline, print_results
from services.editor import consumers as editor_consumers
from services.evaluator import consumers as evaluator_consumers
from services.ledger import consumers as ledger_consumers
from services.ledger.exits import API_EXIT
from services.proposer import consumers as proposer_consumers
from services.trainer import consumers as trainer_consumers
from services.trainer.config import TrainerSettings, variable_names
from services.trainer.workspace import preflight
from shared.auth import BusCredentials, CredentialFolderError
from shared.bus import STREAMS, Bus, BusSetupError, connect
from shared.credentials import CredentialsError
from shared.embedded import EmbeddedNats, free_port
from shared.events import CampaignFinished, Event
from shared.permissions import ADMIN, MONITOR
from shared.processes import keep_secrets_private
from shared.replay import StreamCursor
from shared.settings import LLM_PREFIX, is_secret_name, load_settings

SERVICE_ORDER = ("trainer", "evaluator", "editor", "proposer", "ledger")  # the baseline needs only the trainer: it starts first
CONSUMERS = (ledger_consumers, evaluator_consumers, editor_consumers, proposer_consumers, trainer_consumers)
DEFAULT_NATS_PORT = 4222
BASELINE_EXIT = 3  # the baseline failed, so the campaign ended before any experiment: the workspace needs fixing


class UpError(Exception):
    """`up` cannot start; the message says why and what to do."""


@dataclass
class UpOptions:
    """Everything `up` was asked to do; None leaves a setting to the service (environment, autoresearch.toml, default)."""

    workspace: Path
    tag: str
    train_command: str | None = None
    run_timeout: float | None = None
    max_experiments: int | None = None
    resume: bool = False
    gpu: str | None = None
    pass_env: list[str] = field(default_factory=list)
    run_as: str | None = None
    no_network: bool = False
    lookahead: int = 1
    proposers: int = 1
    proposers_auto: bool = False  # start with `proposers`, add one while they are the bottleneck, up to max_proposers
    max_proposers: int = DEFAULT_MAX_PROPOSERS
    proposer: str | None = None
    state_dir: Path | None = None
    http_port: int = 8750
    verdicts: VerdictOptions = field(default_factory=lambda: VerdictOptions())


@dataclass
class VerdictOptions:
    """The evaluator's keep rule and budgets; None leaves each to the evaluator's environment and defaults."""

    keep_rule: str | None = None
    baseline_runs: int | None = None
    max_runs: int | None = None
    noise_floor: float | None = None
    vram_budget_gb: float | None = None


def check_trainer(options: UpOptions) -> None:
    """Refuse, before anything starts, what the trainer would: bad settings or autoresearch.toml, an unusable workspace or tag."""
    load_settings(TrainerSettings, workspace=options.workspace, tag=options.tag, train_command=options.train_command,
                  run_timeout=options.run_timeout, gpu=options.gpu, lookahead=options.lookahead,
                  max_experiments=options.max_experiments, pass_env=options.pass_env or None,
                  run_as=options.run_as, no_network=options.no_network or None,
                  state_dir=options.state_dir or options.workspace / ".autoresearch")
    preflight(options.workspace, options.tag, options.resume)


def flags(**given: object) -> list[str]:
    """`--name value` for each flag given a value; None is left out."""
    return [part for name, value in given.items() if value is not None for part in (f"--{name.replace('_', '-')}", str(value))]


def service_args(name: str, options: UpOptions, state_dir: Path, index: int = 0) -> list[str]:
    """The command line that starts one service process; every one serves this campaign only."""
    args = [sys.executable, "-m", "autoresearch", "service", name, "--state-dir", str(state_dir), "--tag", options.tag]
    if name == "trainer":
        args += flags(workspace=options.workspace, train_command=options.train_command,
                      run_timeout=options.run_timeout, lookahead=options.lookahead,
                      max_experiments=options.max_experiments, gpu=options.gpu,
                      session=os.urandom(8).hex())  # built once per `up`: the trainer's restarts share its session
        args += [part for variable in variable_names(options.pass_env) for part in ("--pass-env", variable)]
        args += flags(run_as=options.run_as) + (["--no-network"] if options.no_network else [])
        args += flags(results=options.workspace / "results.tsv")  # the workspace is the trainer's: so is its results.tsv
    elif name == "evaluator":
        args += flags(**asdict(options.verdicts))
    elif name == "ledger":
        args += flags(http_port=options.http_port)
    elif name == "proposer":
        args += flags(instance=f"proposer-{index + 1}", proposer=options.proposer or None)
    return args


def port_in_use(port: int) -> bool:
    """True when something already listens on 127.0.0.1:port."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def campaign_durables(tag: str) -> set[str]:
    """The durable consumers of the services `up` runs for one campaign, as each service names them."""
    return set().union(*(consumers.durables(tag) for consumers in CONSUMERS))


async def wait_until_drained(url: str, durables: set[str], timeout: float = 60.0, access: dict | None = None) -> bool:
    """Wait until the given durable consumers have handled every event (other campaigns' are not waited for).

    False when that could not be seen within timeout, NATS being away included; the tail already says so.
    """
    async def quietly(exc: Exception) -> None:  # without an error_cb nats-py logs a traceback per failed attempt
        pass

    deadline = asyncio.get_running_loop().time() + timeout
    try:
        nc = await asyncio.wait_for(nats.connect(
            url, error_cb=quietly, max_reconnect_attempts=-1, reconnect_time_wait=0.5, connect_timeout=2, **(access or {}),
        ), timeout)
    except Exception:  # TimeoutError, refused connections
        return False
    try:
        js = nc.jetstream(timeout=2)
        while asyncio.get_running_loop().time() < deadline:
            try:
                consumers = [
                    c for stream in STREAMS for c in await js.consumers_info(stream) if c.config.durable_name in durables
                ]
            except Exception:  # NATS away for a moment: ask again until the deadline
                consumers = None
            if consumers is not None and all(c.num_pending == 0 and c.num_ack_pending == 0 for c in consumers):
                return True
            await asyncio.sleep(0.05)  # the last events are handled within milliseconds: look again soon
        return False
    finally:
        with contextlib.suppress(Exception):
            await nc.close()


async def _prepare_stream(url: str, access: UpAccess) -> Bus:
    """Reach NATS (failing clearly if it cannot be reached) and, as the admin, set up the streams and the object store."""
    try:
        return await connect(url, "autoresearch-up", access.creds(ADMIN), wait=15.0, tls=access.tls, manage=True)
    except (ConnectionError, BusSetupError) as exc:
        raise UpError(str(exc)) from None


async def _finished_in_record(ends: StreamCursor, finished: asyncio.Event, stop: asyncio.Event, every: float = 2.0) -> None:
    """Also learn the end of the campaign from the stream: the live tail misses what is published while it reconnects."""
    while not finished.is_set() and not stop.is_set():
        await asyncio.sleep(every)
        with contextlib.suppress(Exception):  # NATS away for a moment: look again later
            if await ends.fetch_new():
                finished.set()


def service_environment(base: dict[str, str], name: str, pass_env: list[str] | None = None) -> dict[str, str]:
    """What a service process may see: only proposers get the LLM's key and settings; every service keeps NATS's;
    the trainer keeps the variables it is to pass to its runs."""
    if name == "proposer":
        return dict(base)
    passed = set(variable_names(pass_env or [])) if name == "trainer" else set()
    return {
        key: value for key, value in base.items()
        if key.startswith("NATS_") or key in passed or not (is_secret_name(key) or key.startswith(LLM_PREFIX))
    }


def _processes(options: UpOptions, state_dir: Path, env: dict[str, str], access: UpAccess | None = None) -> list[Supervised]:
    """One process per service, and as many proposers as asked for, each with its own bus credentials."""
    return [
        _process(name, index, options, state_dir, env, access)
        for name in SERVICE_ORDER for index in range(options.proposers if name == "proposer" else 1)
    ]


def _process(
    name: str, index: int, options: UpOptions, state_dir: Path, env: dict[str, str], access: UpAccess | None = None,
) -> Supervised:
    """One service process (the index-th proposer), with its own bus credentials and log."""
    access = access or UpAccess()
    single = options.proposers == 1 and not options.proposers_auto
    label = name if name != "proposer" or (single and index == 0) else f"proposer-{index + 1}"
    reasons = {API_EXIT: f"its read API on port {options.http_port} could not start or stopped"} if name == "ledger" else {}
    return Supervised(
        label, service_args(name, options, state_dir, index),
        access.service_environment(service_environment(env, name, options.pass_env), name),
        state_dir / "logs" / f"{label}.log", reasons,
    )


async def run_up(options: UpOptions, console: Console) -> int:
    """Run a campaign until its experiment limit, Ctrl-C or SIGTERM; return the exit code."""
    keep_secrets_private()  # a training run of the same user cannot read this process's environment from /proc
    check_trainer(options)
    state_dir = (options.state_dir or options.workspace / ".autoresearch").resolve()
    if options.http_port and port_in_use(options.http_port):
        busy, options.http_port = options.http_port, free_port()
        console.print(f"[yellow]port {busy} is taken; the ledger API uses {options.http_port} instead[/]")
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # never readable by a run as another user
    (state_dir / "logs").mkdir(parents=True, exist_ok=True)
    embedded = None
    url = os.environ.get("NATS_URL")
    try:
        if not url:
            # its own server admits only the credentials kept here (a state folder from before them gets them now)
            credentials = BusCredentials.prepare(state_dir / "creds")
            access = UpAccess.for_embedded(credentials)
            # the standard port when it is free, so `autoresearch watch` and `nats sub` find it without a URL
            port = 0 if port_in_use(DEFAULT_NATS_PORT) else DEFAULT_NATS_PORT
            embedded = EmbeddedNats(state_dir / "nats", port=port, config=credentials.config)
        else:
            access = UpAccess.for_external()
        connections = {role: access.options(role) for role in (ADMIN, MONITOR)}
    except (CredentialFolderError, CredentialsError) as exc:
        raise UpError(str(exc)) from None
    if embedded:
        url = embedded.start()  # from this thread: the server must not outlive `up`
        console.print(f"[dim]embedded NATS at {url} (data in {embedded.data_dir})[/]")
        console.print(f"[dim]{access.monitor_hint(url)}[/]", highlight=False)
    stop, finished = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    hangup = [signal.SIGHUP] if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN else []  # nohup keeps it running
    for sig in (signal.SIGINT, signal.SIGTERM, *hangup):
        loop.add_signal_handler(sig, stop.set)
    services = _processes(options, state_dir, {**os.environ, "NATS_URL": url}, access)
    view = campaign_view(console)
    failure: list[str] = []
    scaling = ProposerScaling(
        options.proposers, options.lookahead, options.proposers_auto, options.max_proposers,
        lambda index: _process("proposer", index, options, state_dir, {**os.environ, "NATS_URL": url}, access),
        services, stop, failure, lambda text: view.notice(text),
    )

    def show(event: Event) -> None:
        view.show(event)
        scaling.observe(event)
        if isinstance(event, CampaignFinished):
            finished.set()

    tail = EventTail(url, options.tag, show, view.notice, access=connections[MONITOR])
    failed: FailedBaseline | None = None
    bus = None
    try:
        bus = await _prepare_stream(url, access)
        ends = StreamCursor(bus, [CampaignFinished], options.tag)
        await ends.fetch_new()  # an earlier session's end is not this one's
        try:
            await tail.start()
        except TailError as exc:
            raise UpError(str(exc)) from None
        view.start()
        await start_in_turn(services, beating(state_dir, "trainer"))  # the baseline waits for no other service
        if options.http_port:
            console.print(f"dashboard and API at http://127.0.0.1:{options.http_port} · logs in {state_dir / 'logs'}")
        supervisor = asyncio.create_task(supervise(services, stop, failure, view.notice))
        keeper = asyncio.create_task(keep_nats_up(embedded, stop, failure, view.notice)) if embedded else None
        watcher = asyncio.create_task(_finished_in_record(ends, finished, stop))
        await wait_for_finish(bus, options.tag, finished, stop, view.notice)
        if not stop.is_set():
            failed = await failed_baseline(bus, options.tag)
            if not await wait_until_drained(url, campaign_durables(options.tag), access=connections[ADMIN]):
                view.notice("could not confirm that every service handled its last events; --resume picks up any left")
        stop.set()
        await supervisor
        await scaling.close()
        if keeper:
            await keeper
        watcher.cancel()
    finally:
        if bus is not None:
            await bus.close()
        await stop_all(services)  # together: each drains its own connection, none waits for another
        view.stop()
        await tail.close()
        if embedded:
            await asyncio.to_thread(embedded.stop)
    if failure:
        console.print(f"[red]{failure[0]}[/]")
        return 1
    print_results(console, options.workspace / "results.tsv", rows=isinstance(view, EventLines))
    if failed is not None:
        print_failed_baseline(console, failed.reason, failed.log_lines)
        return BASELINE_EXIT
    return 0
