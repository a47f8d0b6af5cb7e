"""`autoresearch doctor`: the checks before a first run, a line each; exit code 2 when any fails."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from autoresearch.terminal import CONFIG_EXIT, console, fail, reported

if TYPE_CHECKING:
    from autoresearch.doctor.findings import Finding


def diagnosis(workspace: Path, train_command: str | None = None, tag: str | None = None,
              state_dir: Path | None = None, gpu: str | None = None) -> list[Finding]:
    """Every check's findings for a workspace; a bad setting ends the command with its message (exit code 2)."""
    from autoresearch.doctor.diagnose import diagnose
    from autoresearch.doctor.setup import setup_for
    from shared.settings import SettingsError

    with reported(SettingsError, code=CONFIG_EXIT):
        setup = setup_for(workspace, train_command=train_command, tag=tag, state_dir=state_dir, gpu=gpu)
    return diagnose(setup)


def print_findings(findings: Sequence[Finding]) -> None:
    """One line per finding, failures in red."""
    for finding in findings:
        console.print(Text(finding.line(), style=None if finding.ok else "red"), soft_wrap=True)


def refuse_unready(findings: Sequence[Finding], before: str) -> None:
    """End the command (exit code 2) with every failed finding, when there is one; else show what the checks
    say will take time (the first sync of a uv environment), which would otherwise look like a hang."""
    from autoresearch.doctor.findings import failures, notices

    failing = failures(findings)
    if failing:
        fail(f"{before}:\n" + "\n".join(f"  {finding.line()}" for finding in failing))
    for finding in notices(findings):
        console.print(Text(finding.line(), style="yellow"), soft_wrap=True)


def doctor(
    workspace: Annotated[Path, typer.Option(help="Git repository holding prepare.py and train.py.")] = Path("."),
    train_command: Annotated[str | None, typer.Option(help=(
        "Train command to check. Default: AUTORESEARCH_TRAIN_COMMAND, else the workspace's autoresearch.toml, "
        "else `uv run train.py`."))] = None,
    tag: Annotated[str | None, typer.Option(help="Campaign tag, as `up` takes it (default AUTORESEARCH_TAG).")] = None,
    state_dir: Annotated[Path | None, typer.Option(help=(
        "State folder `up` would use (default <workspace>/.autoresearch)."))] = None,
) -> None:
    """Check that a campaign can start: train command, dependencies, prepare.py's data, GPU, NATS, disk space."""
    findings = diagnosis(workspace, train_command, tag, state_dir)
    print_findings(findings)
    failing = sum(not finding.ok for finding in findings)
    if failing:
        fail(f"{failing} of {len(findings)} checks failed: fix them before `autoresearch up`")
