"""`autoresearch results`: every decided experiment, or the campaign's summary as JSON."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from autoresearch.commands.ledger_options import DEFAULT_LEDGER_URL, CampaignName, LedgerUrl
from autoresearch.terminal import console, reported


def results(
    ledger_url: LedgerUrl = DEFAULT_LEDGER_URL, campaign: CampaignName = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON instead of the table.")] = False,
) -> None:
    """Every decided experiment as a table, or the campaign's summary as JSON."""
    from autoresearch.display import summary_lines, verdict_table
    from autoresearch.ledger_client import LedgerClient, LedgerError

    with reported(LedgerError, code=1):
        client = LedgerClient(ledger_url)
        name = client.campaign(campaign)
        if as_json:
            typer.echo(json.dumps(client.summary(name), indent=2))
            return
        console.print(verdict_table(client.decided(name), f"results of {name}"))
        for line in summary_lines(client.summary(name)):
            console.print(line, highlight=False, soft_wrap=True)
