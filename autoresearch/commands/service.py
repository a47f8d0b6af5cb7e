"""`autoresearch service NAME`: one service in this process, its flags checked against its settings first."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from autoresearch.serve import run
from autoresearch.services import SERVICES


def service(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICES)}.")],
    nats_url: Annotated[str | None, typer.Option(envvar="NATS_URL", help="NATS server URL.")] = None,
    nats_creds: Annotated[str | None, typer.Option(envvar="NATS_CREDS", help="NATS credentials file.")] = None,
    state_dir: Annotated[Path | None, typer.Option(help="Folder for this service's own files.")] = None,
    instance: Annotated[str | None, typer.Option(help="Instance name (default host-pid).")] = None,
    workspace: Annotated[Path | None, typer.Option(help="trainer: the workspace repository.")] = None,
    tag: Annotated[str | None, typer.Option(help=(
        "The campaign served: its own consumers, other campaigns' events skipped. Required by the trainer; "
        "unset elsewhere means every campaign."))] = None,
    train_command: Annotated[str | None, typer.Option(help="trainer: the train command.")] = None,
    run_timeout: Annotated[float | None, typer.Option(help="trainer: run wall-clock limit in seconds.")] = None,
    gpu: Annotated[str | None, typer.Option(help="trainer: CUDA_VISIBLE_DEVICES for runs.")] = None,
    pass_env: Annotated[list[str] | None, typer.Option(help=(
        "trainer: give runs this environment variable as it is, even a secret (repeatable)."))] = None,
    lookahead: Annotated[int | None, typer.Option(help="trainer: proposals prepared ahead.")] = None,
    max_experiments: Annotated[int | None, typer.Option(help="trainer: experiments beyond the baseline.")] = None,
    session: Annotated[str | None, typer.Option(help="trainer: the sitting --max-experiments counts from.")] = None,
    run_as: Annotated[str | None, typer.Option(help="trainer: run the train command as this user (needs root).")] = None,
    no_network: Annotated[bool, typer.Option("--no-network", help="trainer: runs get no network.")] = False,
    keep_rule: Annotated[str | None, typer.Option(help="evaluator: sprt (judged under measured noise), bayes (the campaign's record as a prior) or greedy.")] = None,
    baseline_runs: Annotated[int | None, typer.Option(help="evaluator: runs of the unchanged baseline (default 3).")] = None,
    max_runs: Annotated[int | None, typer.Option(help="evaluator: runs of a change, and of the kept state, before deciding.")] = None,
    noise_floor: Annotated[float | None, typer.Option(help="evaluator: the least noise σ the keep rule assumes.")] = None,
    vram_budget_gb: Annotated[float | None, typer.Option(help="evaluator: discard runs whose peak memory is above this.")] = None,
    results: Annotated[Path | None, typer.Option(help=(
        "trainer: results.tsv to keep, one row per decided experiment; ledger: results.tsv path for --tag."))] = None,
    http_host: Annotated[str | None, typer.Option(help="ledger: API host.")] = None,
    http_port: Annotated[int | None, typer.Option(help="ledger: API port (0 = off).")] = None,
    proposer: Annotated[str | None, typer.Option(help="proposer: search or llm.")] = None,
    llm_provider: Annotated[str | None, typer.Option(help="proposer: openai or anthropic.")] = None,
    llm_base_url: Annotated[str | None, typer.Option(help="proposer: the LLM endpoint, e.g. http://localhost:8000/v1.")] = None,
    llm_model: Annotated[str | None, typer.Option(help="proposer: the model; each proposer may use its own.")] = None,
    log_level: Annotated[str, typer.Option(envvar="AUTORESEARCH_LOG_LEVEL")] = "INFO",
) -> None:
    """Run one service in this process (as `up` does, through autoresearch/serve.py, which takes the same flags)."""
    given = dict(
        nats_url=nats_url, nats_creds=nats_creds, state_dir=state_dir, instance=instance, workspace=workspace, tag=tag,
        train_command=train_command, run_timeout=run_timeout, gpu=gpu, pass_env=pass_env or None, lookahead=lookahead,
        session=session, run_as=run_as, no_network=no_network or None,
        max_experiments=max_experiments, results_path=results, http_host=http_host, http_port=http_port, proposer=proposer,
        llm_provider=llm_provider, llm_base_url=llm_base_url, llm_model=llm_model, keep_rule=keep_rule,
        baseline_runs=baseline_runs, max_runs=max_runs, noise_floor=noise_floor, vram_budget_gb=vram_budget_gb,
    )
    run(name, given, log_level)
