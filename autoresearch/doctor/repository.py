"""The workspace is a git repository holding prepare.py and train.py, with a first commit."""

from __future__ import annotations

from autoresearch.doctor.findings import Finding, passed
from autoresearch.doctor.setup import Setup

NAME = "workspace"


def check_workspace(setup: Setup) -> list[Finding]:
    """What `init --from` has always checked; each problem says its fix."""
    from autoresearch.workspace import InitError, adopt_workspace

    try:
        problems = adopt_workspace(setup.workspace)
    except InitError as error:  # git itself missing
        problems = [str(error)]
    if not problems:
        return [passed(NAME, f"{setup.workspace}: a git repository with prepare.py and train.py")]
    return [Finding(NAME, False, problem) for problem in problems]
