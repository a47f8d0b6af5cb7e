"""The autoresearch command line: the app, assembled from one module per command."""

from __future__ import annotations

import typer

from autoresearch.commands.creds import creds
from autoresearch.commands.init import init
from autoresearch.commands.plot import plot
from autoresearch.commands.results import results
from autoresearch.commands.service import service
from autoresearch.commands.status import status
from autoresearch.commands.streams import streams
from autoresearch.commands.up import up
from autoresearch.commands.watch import watch

app = typer.Typer(help="Autonomous ML research as event-driven services on NATS JetStream.", no_args_is_help=True)

for command in (up, service, init, status, results, plot, watch, streams):
    app.command()(command)
app.add_typer(creds, name="creds")
