"""`autoresearch up`: run the research loop on a workspace, every service as a process on this machine."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from autoresearch.terminal import CONFIG_EXIT, console, reported


def default_tag() -> str:
    """Today's date as a tag, e.g. nov27."""
    return datetime.now().strftime("%b%d").lower()


def up(
    workspace: Annotated[Path, typer.Option(help="Git repository holding prepare.py and train.py.")],
    tag: Annotated[str | None, typer.Option(help="Campaign tag; the branch is autoresearch/<tag>. Default: today, e.g. nov27.")] = None,
    max_experiments: Annotated[int | None, typer.Option(min=0, help="Stop after N experiments beyond the baseline.")] = None,
    train_command: Annotated[str | None, typer.Option(help=(
        "Train command; output goes to run.log. Default: AUTORESEARCH_TRAIN_COMMAND, "
        "else the workspace's autoresearch.toml, else `uv run train.py`."))] = None,
    run_timeout: Annotated[float | None, typer.Option(min=1, help=(
        "Seconds before a run is killed and counted as a crash. Default: AUTORESEARCH_RUN_TIMEOUT, "
        "else the workspace's autoresearch.toml, else 600."))] = None,
    resume: Annotated[bool, typer.Option(help="Continue the campaign whose branch exists.")] = False,
    gpu: Annotated[str | None, typer.Option(help="CUDA_VISIBLE_DEVICES for training runs (default: inherited).")] = None,
    lookahead: Annotated[int, typer.Option(min=0, envvar="AUTORESEARCH_LOOKAHEAD", help="Proposals prepared ahead of the running experiment; 0 is strictly sequential.")] = 1,
    proposers: Annotated[int, typer.Option(min=1, max=16, help="Proposer processes.")] = 1,
    proposer: Annotated[str | None, typer.Option(help="search or llm (default: llm when AUTORESEARCH_LLM_MODEL is set, else search).")] = None,
    state_dir: Annotated[Path | None, typer.Option(help="Where services keep their state (default <workspace>/.autoresearch).")] = None,
    http_port: Annotated[int, typer.Option(min=0, max=65535, envvar="AUTORESEARCH_HTTP_PORT", help="Ledger API port; 0 turns it off.")] = 8750,
) -> None:
    """Run the research loop: embedded NATS (unless NATS_URL is set) and all five services."""
    from autoresearch.up import UpError, UpOptions, run_up
    from shared.settings import SettingsError

    options = UpOptions(
        workspace=workspace.expanduser().resolve(), tag=tag or default_tag(), train_command=train_command,
        run_timeout=run_timeout, max_experiments=max_experiments, resume=resume, gpu=gpu, lookahead=lookahead,
        proposers=proposers, proposer=proposer, state_dir=state_dir, http_port=http_port,
    )
    with reported(UpError, SettingsError, code=CONFIG_EXIT):
        code = asyncio.run(run_up(options, console))
    raise typer.Exit(code)
