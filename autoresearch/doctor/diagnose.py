"""Every check, in the order a person would fix them, run side by side."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from autoresearch.doctor.bus import check_nats
from autoresearch.doctor.data import check_data
from autoresearch.doctor.dependencies import check_dependencies
from autoresearch.doctor.disk import check_disk
from autoresearch.doctor.findings import Check, Finding, failed
from autoresearch.doctor.gpu import check_gpu
from autoresearch.doctor.repository import check_workspace
from autoresearch.doctor.setup import Setup
from autoresearch.doctor.train_command import check_train_command

CHECKS = (
    Check("workspace", check_workspace),
    Check("train command", check_train_command),
    Check("dependencies", check_dependencies),
    Check("data", check_data),
    Check("gpu", check_gpu),
    Check("nats", check_nats),
    Check("disk", check_disk),
)


def diagnose(setup: Setup, checks: Sequence[Check] = CHECKS) -> list[Finding]:
    """The findings of every check, in the checks' order; a check that breaks is a failed finding, never a crash."""
    def run(check: Check) -> Sequence[Finding]:
        try:
            return check.run(setup)
        except Exception as exc:  # the other checks still report
            return [failed(check.name, f"the check could not run: {exc.__class__.__name__}: {exc}",
                           "pass --skip-checks to `up` to start without the checks")]

    # Checks wait on subprocesses (uv, the run's Python) and the network, so they overlap well in threads.
    with ThreadPoolExecutor(max_workers=len(checks) or 1) as pool:
        return [finding for found in pool.map(run, checks) for finding in found]
