"""`autoresearch service-health NAME`: whether a service runs and holds its bus connection, for container healthchecks."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import httpx
import typer

from autoresearch.services import SERVICES
from autoresearch.terminal import fail
from shared.runtime import HEARTBEAT_EVERY, heartbeats

UNHEALTHY = 1  # what Docker reads as unhealthy; 0 is healthy
DEFAULT_MAX_AGE = 6 * HEARTBEAT_EVERY  # a few missed beats (a busy disk, a long pause) are not yet a dead service


def heartbeat_problem(state_dir: Path, name: str, max_age: float, now: float | None = None) -> str | None:
    """Why the service counts as down (no heartbeat, or none recent enough), or None when one beat within max_age."""
    found = heartbeats(state_dir, name)
    if not found:
        return f"no heartbeat from the {name} service in {state_dir}: it has not connected to NATS, or it stopped"
    ages = []
    for path in found:
        try:
            ages.append((now if now is not None else time.time()) - path.stat().st_mtime)
        except OSError:  # removed by a service stopping while we looked
            continue
    if not ages:
        return f"no heartbeat from the {name} service in {state_dir}: it stopped"
    if min(ages) > max_age:
        return f"the {name} service's last heartbeat was {min(ages):.0f} s ago: it lost NATS or is stuck"
    return None


def url_problem(url: str) -> str | None:
    """Why url does not answer 200 within a few seconds, or None when it does."""
    try:
        status = httpx.get(url, timeout=5.0).status_code
    except httpx.HTTPError as exc:
        return f"{url} did not answer: {type(exc).__name__}"
    return None if status == 200 else f"{url} answered {status}"


def service_health(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICES)}.")],
    state_dir: Annotated[Path, typer.Option(envvar="AUTORESEARCH_STATE_DIR", help=(
        "The state folder the service was started with."))] = Path(".autoresearch"),
    max_age: Annotated[float, typer.Option(min=1.0, help="Seconds since the last heartbeat before it counts as down.")] = (
        DEFAULT_MAX_AGE),
    url: Annotated[str | None, typer.Option(help="Also require this URL to answer 200, e.g. the ledger's /healthz.")] = None,
) -> None:
    """Exit 0 when the service beats (and url answers), 1 with the reason when not: a container healthcheck."""
    if name not in SERVICES:
        fail(f"unknown service {name!r}; choose one of {', '.join(SERVICES)}")
    problem = heartbeat_problem(state_dir, name, max_age) or (url_problem(url) if url else None)
    if problem:
        typer.echo(f"unhealthy: {problem}", err=True)
        raise typer.Exit(UNHEALTHY)
    typer.echo(f"{name}: healthy")
