"""`autoresearch init`: create the bundled workspace, or check an existing repository with --from (`doctor`'s checks)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from autoresearch.commands.doctor import diagnosis, print_findings
from autoresearch.terminal import console, fail


def init(
    directory: Annotated[Path | None, typer.Argument(help="Folder for the new workspace (must not exist, or be empty).")] = None,
    time_budget: Annotated[int, typer.Option(min=1, help="Seconds of training per experiment.")] = 60,
    data: Annotated[Path | None, typer.Option(help="Your own text: a folder of .txt files or parquet shards with a `text` column.")] = None,
    from_: Annotated[Path | None, typer.Option("--from", help="Adopt an existing Karpathy-style repository instead of creating one.")] = None,
) -> None:
    """Create the bundled tiny-GPT workspace (CPU or GPU), or check an existing one with --from PATH."""
    from autoresearch.workspace import InitError, init_workspace

    if from_ is not None:
        existing = from_.expanduser().resolve()
        findings = diagnosis(existing)  # the checks `up` makes before it starts, the repository's shape first
        print_findings(findings)
        failing = sum(not finding.ok for finding in findings)
        if failing:
            fail(f"{existing} is not ready as a workspace: {failing} of {len(findings)} checks failed")
        console.print(f"{existing} is ready: run `autoresearch up --workspace {existing}`", soft_wrap=True)
        return
    if directory is None:
        fail("give a folder for the new workspace, or --from PATH to adopt an existing one")
    try:
        created = init_workspace(directory.expanduser().resolve(), time_budget=time_budget, data=data)
    except InitError as exc:
        fail(str(exc))
    console.print(f"workspace created at {created}: run `autoresearch up --workspace {created}`", soft_wrap=True)
