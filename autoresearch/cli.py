"""The autoresearch command line: the app, assembled from one module per command."""

from __future__ import annotations

from importlib import metadata
from typing import Annotated

import typer

from autoresearch.commands.creds import creds
from autoresearch.commands.doctor import doctor
from autoresearch.commands.health import service_health
from autoresearch.commands.init import init
from autoresearch.commands.plot import plot
from autoresearch.commands.results import results
from autoresearch.commands.service import service
from autoresearch.commands.status import status
from autoresearch.commands.streams import streams
from autoresearch.commands.up import up
from autoresearch.commands.watch import watch

DISTRIBUTION = "autoresearch-services"

app = typer.Typer(help="Autonomous ML research as event-driven services on NATS JetStream.", no_args_is_help=True)


def version() -> str:
    """The installed package's version."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _print_version(given: bool) -> None:
    if given:
        typer.echo(f"autoresearch {version()}")
        raise typer.Exit()


@app.callback()
def main(
    show_version: Annotated[bool, typer.Option("--version", "-V", is_eager=True, callback=_print_version,
                                               help="Print the version and exit.")] = False,
) -> None:
    """Autonomous ML research as event-driven services on NATS JetStream."""


for command in (up, service, init, doctor, status, results, plot, watch, streams):
    app.command()(command)
app.add_typer(creds, name="creds")
app.command()(service_health)  # container healthchecks: see docker-compose.yml
