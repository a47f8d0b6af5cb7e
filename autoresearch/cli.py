"""The autoresearch command line."""

from __future__ import annotations

import asyncio
import functools
import os
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from autoresearch.services import SERVICES
from autoresearch.up import CONFIG_EXIT, UpError, UpOptions, run_up
from shared.settings import SettingsError, load_settings

app = typer.Typer(help="Autonomous ML research as event-driven services on NATS JetStream.", no_args_is_help=True)
console = Console(soft_wrap=True)
err = Console(stderr=True)


def default_tag() -> str:
    """Today's date as a tag, e.g. nov27."""
    return datetime.now().strftime("%b%d").lower()


def fail(message: str, code: int = CONFIG_EXIT) -> None:
    err.print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def resolve_train_command(workspace: Path, given: str | None) -> str:
    """The flag, else AUTORESEARCH_TRAIN_COMMAND, else the workspace's autoresearch.toml, else `uv run train.py`."""
    if given:
        return given
    if os.environ.get("AUTORESEARCH_TRAIN_COMMAND"):
        return os.environ["AUTORESEARCH_TRAIN_COMMAND"]
    from autoresearch.workspace import load_workspace_config
    try:
        configured = load_workspace_config(workspace).train_command
    except ValueError as exc:
        fail(str(exc))
    from services.trainer.config import DEFAULT_TRAIN_COMMAND
    return configured or DEFAULT_TRAIN_COMMAND


@app.command()
def up(
    workspace: Annotated[Path, typer.Option(help="Git repository holding prepare.py and train.py.")],
    tag: Annotated[str | None, typer.Option(help="Campaign tag; the branch is autoresearch/<tag>. Default: today, e.g. nov27.")] = None,
    max_experiments: Annotated[int | None, typer.Option(min=0, help="Stop after N experiments beyond the baseline.")] = None,
    train_command: Annotated[str | None, typer.Option(help="Train command; output goes to run.log. Default: the workspace's, else `uv run train.py`.")] = None,
    run_timeout: Annotated[float | None, typer.Option(min=1, help="Seconds before a run is killed and counted as a crash (default 600).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the campaign whose branch exists.")] = False,
    gpu: Annotated[str | None, typer.Option(help="CUDA_VISIBLE_DEVICES for training runs (default: inherited).")] = None,
    lookahead: Annotated[int, typer.Option(min=0, envvar="AUTORESEARCH_LOOKAHEAD", help="Proposals prepared ahead of the running experiment; 0 is strictly sequential.")] = 1,
    proposers: Annotated[int, typer.Option(min=1, max=16, help="Proposer processes.")] = 1,
    proposer: Annotated[str | None, typer.Option(help="search or llm (default: llm when AUTORESEARCH_LLM_MODEL is set, else search).")] = None,
    state_dir: Annotated[Path | None, typer.Option(help="Where services keep their state (default <workspace>/.autoresearch).")] = None,
    http_port: Annotated[int, typer.Option(min=0, max=65535, envvar="AUTORESEARCH_HTTP_PORT", help="Ledger API port; 0 turns it off.")] = 8750,
) -> None:
    """Run the research loop: embedded NATS (unless NATS_URL is set) and all five services."""
    workspace = workspace.expanduser().resolve()
    tag = tag or default_tag()
    from autoresearch.workspace import load_workspace_config
    try:
        config = load_workspace_config(workspace) if workspace.is_dir() else None
    except ValueError as exc:
        fail(str(exc))
    timeout = run_timeout or (config.run_timeout if config and config.run_timeout else 600.0)
    options = UpOptions(
        workspace=workspace, tag=tag, train_command=resolve_train_command(workspace, train_command) if workspace.is_dir() else "",
        run_timeout=timeout, max_experiments=max_experiments, resume=resume, gpu=gpu, lookahead=lookahead,
        proposers=proposers, proposer=proposer, state_dir=state_dir, http_port=http_port,
    )
    try:
        code = asyncio.run(run_up(options, console))
    except UpError as exc:
        fail(str(exc))
    raise typer.Exit(code)


@app.command()
def service(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICES)}.")],
    nats_url: Annotated[str | None, typer.Option(envvar="NATS_URL", help="NATS server URL.")] = None,
    nats_creds: Annotated[str | None, typer.Option(envvar="NATS_CREDS", help="NATS credentials file.")] = None,
    state_dir: Annotated[Path | None, typer.Option(help="Folder for this service's own files.")] = None,
    instance: Annotated[str | None, typer.Option(help="Instance name (default host-pid).")] = None,
    workspace: Annotated[Path | None, typer.Option(help="trainer: the workspace repository.")] = None,
    tag: Annotated[str | None, typer.Option(help="trainer, ledger: the campaign tag.")] = None,
    train_command: Annotated[str | None, typer.Option(help="trainer: the train command.")] = None,
    run_timeout: Annotated[float | None, typer.Option(help="trainer: run wall-clock limit in seconds.")] = None,
    gpu: Annotated[str | None, typer.Option(help="trainer: CUDA_VISIBLE_DEVICES for runs.")] = None,
    lookahead: Annotated[int | None, typer.Option(help="trainer: proposals prepared ahead.")] = None,
    max_experiments: Annotated[int | None, typer.Option(help="trainer: experiments beyond the baseline.")] = None,
    results: Annotated[Path | None, typer.Option(help="ledger: results.tsv path for --tag.")] = None,
    http_host: Annotated[str | None, typer.Option(help="ledger: API host.")] = None,
    http_port: Annotated[int | None, typer.Option(help="ledger: API port (0 = off).")] = None,
    proposer: Annotated[str | None, typer.Option(help="proposer: search or llm.")] = None,
    llm_provider: Annotated[str | None, typer.Option(help="proposer: openai or anthropic.")] = None,
    llm_base_url: Annotated[str | None, typer.Option(help="proposer: the LLM endpoint, e.g. http://localhost:8000/v1.")] = None,
    llm_model: Annotated[str | None, typer.Option(help="proposer: the model; each proposer may use its own.")] = None,
    log_level: Annotated[str, typer.Option(envvar="AUTORESEARCH_LOG_LEVEL")] = "INFO",
) -> None:
    """Run one service in this process."""
    if name not in SERVICES:
        fail(f"unknown service {name!r}; choose one of {', '.join(SERVICES)}")
    settings_cls, serve = SERVICES[name]()
    given = dict(
        nats_url=nats_url, nats_creds=nats_creds, state_dir=state_dir, instance=instance, workspace=workspace, tag=tag,
        train_command=train_command, run_timeout=run_timeout, gpu=gpu, lookahead=lookahead,
        max_experiments=max_experiments, results_path=results, http_host=http_host, http_port=http_port, proposer=proposer,
        llm_provider=llm_provider, llm_base_url=llm_base_url, llm_model=llm_model,
    )
    foreign = [key for key, value in given.items() if value is not None and key not in settings_cls.model_fields]
    if foreign:
        flags = ", ".join("--" + key.replace("_", "-").replace("results-path", "results") for key in foreign)
        fail(f"{flags} does not apply to the {name} service")
    from shared.runtime import run_service
    try:
        settings = load_settings(settings_cls, **given)
        run_service(name, settings, functools.partial(serve, settings=settings), log_level)
    except SettingsError as exc:
        fail(str(exc))


@app.command()
def init(
    directory: Annotated[Path | None, typer.Argument(help="Folder for the new workspace (must not exist, or be empty).")] = None,
    time_budget: Annotated[int, typer.Option(min=1, help="Seconds of training per experiment.")] = 60,
    data: Annotated[Path | None, typer.Option(help="Your own text: a folder of .txt files or parquet shards with a `text` column.")] = None,
    from_: Annotated[Path | None, typer.Option("--from", help="Adopt an existing Karpathy-style repository instead of creating one.")] = None,
) -> None:
    """Create the bundled tiny-GPT workspace (CPU or GPU), or check an existing one with --from PATH."""
    from autoresearch.workspace import WorkspaceError, adopt_workspace, init_workspace

    if from_ is not None:
        existing = from_.expanduser().resolve()
        problems = adopt_workspace(existing)
        if problems:
            fail(f"{existing} is not ready as a workspace:\n" + "\n".join(f"  - {p}" for p in problems))
        console.print(f"{existing} is ready: run `autoresearch up --workspace {existing}`")
        return
    if directory is None:
        fail("give a folder for the new workspace, or --from PATH to adopt an existing one")
    try:
        created = init_workspace(directory.expanduser().resolve(), time_budget=time_budget, data=data)
    except WorkspaceError as exc:
        fail(str(exc))
    console.print(f"workspace created at {created}: run `autoresearch up --workspace {created}`")


from autoresearch.observe import register  # noqa: E402  (the watching commands live in their own module)

register(app)
