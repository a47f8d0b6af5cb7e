"""`autoresearch up`: run the research loop on a workspace, every service as a process on this machine."""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from autoresearch.terminal import CONFIG_EXIT, console, reported


class KeepRuleName(str, Enum):
    """The keep rules the evaluator knows."""

    sprt = "sprt"
    bayes = "bayes"
    greedy = "greedy"


def default_tag() -> str:
    """Today's date as a tag, e.g. nov27."""
    return datetime.now().strftime("%b%d").lower()


def proposer_count(value: str) -> int:
    """The proposers to start with: the number given, or 1 for auto; a clear error for anything else."""
    text = value.strip().lower()
    if text == "auto":
        return 1
    if not text.isdigit() or not 1 <= int(text) <= 16:
        raise typer.BadParameter(f"{value!r} is neither a number from 1 to 16 nor auto", param_hint="--proposers")
    return int(text)


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
    pass_env: Annotated[list[str] | None, typer.Option(envvar="AUTORESEARCH_PASS_ENV", help=(
        "Give training runs this environment variable as it is, even a secret (repeatable); "
        "runs get nothing else but the basics."))] = None,
    run_as: Annotated[str | None, typer.Option(envvar="AUTORESEARCH_RUN_AS", help=(
        "Run the train command as this user (`up` must run as root); it may write in the run's folder, "
        "never read the state folder."))] = None,
    no_network: Annotated[bool, typer.Option("--no-network", envvar="AUTORESEARCH_NO_NETWORK", help=(
        "Training runs get no network (a network namespace of their own); refused where that cannot be had."))] = False,
    lookahead: Annotated[int, typer.Option(min=0, envvar="AUTORESEARCH_LOOKAHEAD", help="Proposals prepared ahead of the running experiment; 0 is strictly sequential.")] = 1,
    proposers: Annotated[str, typer.Option(help=(
        "Proposer processes (1 to 16), or auto: start with one and add one while proposals take longer than runs."))] = "1",
    max_proposers: Annotated[int, typer.Option(min=1, max=16, help=(
        "The most proposers --proposers auto starts (it never starts more than 1 + --lookahead)."))] = 4,
    proposer: Annotated[str | None, typer.Option(help="search or llm (default: llm when AUTORESEARCH_LLM_MODEL is set, else search).")] = None,
    state_dir: Annotated[Path | None, typer.Option(help="Where services keep their state (default <workspace>/.autoresearch).")] = None,
    http_port: Annotated[int, typer.Option(min=0, max=65535, envvar="AUTORESEARCH_HTTP_PORT", help="Ledger API port; 0 turns it off.")] = 8750,
    keep_rule: Annotated[KeepRuleName | None, typer.Option(help=(
        "sprt: keep a change only when clearly better than the kept state's mean, with confirmation runs in between "
        "(default); bayes: keep once the chance of no gain, weighed against the campaign's past gains, is below 2%; "
        "greedy: keep any run below the best single run so far."))] = None,
    baseline_runs: Annotated[int | None, typer.Option(min=1, max=64, help="Runs of the unchanged baseline (default 3).")] = None,
    max_runs: Annotated[int | None, typer.Option(min=1, max=32, help=(
        "Runs of a change, and of the kept state, before an undecided change is judged on what is known (default 6)."))] = None,
    noise_floor: Annotated[float | None, typer.Option(min=0, help="The least run-to-run noise σ the keep rule assumes (default 0).")] = None,
    vram_budget_gb: Annotated[float | None, typer.Option(min=0, help="Discard runs whose peak memory is above this (default: none).")] = None,
    skip_checks: Annotated[bool, typer.Option("--skip-checks", help=(
        "Start without `autoresearch doctor`'s checks (train command, dependencies, data, GPU, NATS, disk)."))] = False,
) -> None:
    """Run the research loop: embedded NATS (unless NATS_URL is set) and all five services."""
    from autoresearch.commands.doctor import diagnosis, refuse_unready
    from autoresearch.up import UpError, UpOptions, VerdictOptions, run_up
    from shared.settings import SettingsError

    options = UpOptions(
        workspace=workspace.expanduser().resolve(), tag=tag or default_tag(), train_command=train_command,
        run_timeout=run_timeout, max_experiments=max_experiments, resume=resume, gpu=gpu, lookahead=lookahead,
        proposers=proposer_count(proposers), proposers_auto=proposers.strip().lower() == "auto",
        max_proposers=max_proposers, proposer=proposer, state_dir=state_dir, http_port=http_port, pass_env=pass_env or [],
        run_as=run_as, no_network=no_network,
        verdicts=VerdictOptions(keep_rule=keep_rule.value if keep_rule else None, baseline_runs=baseline_runs,
                                max_runs=max_runs, noise_floor=noise_floor, vram_budget_gb=vram_budget_gb),
    )
    if not skip_checks:  # before anything starts: a baseline that cannot run would otherwise end in run.log
        findings = diagnosis(options.workspace, train_command, options.tag, state_dir, gpu)
        refuse_unready(findings, "not ready to start (fix these, or pass --skip-checks)")
    with reported(UpError, SettingsError, code=CONFIG_EXIT):
        code = asyncio.run(run_up(options, console))
    raise typer.Exit(code)
