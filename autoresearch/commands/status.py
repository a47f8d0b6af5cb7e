"""`autoresearch status`: the current run, the best so far, the last verdicts."""

from __future__ import annotations

from typing import Annotated

import typer

from autoresearch.commands.ledger_options import DEFAULT_LEDGER_URL, CampaignName, LedgerUrl
from autoresearch.terminal import console, reported


def status(
    ledger_url: LedgerUrl = DEFAULT_LEDGER_URL, campaign: CampaignName = None,
    last: Annotated[int, typer.Option(min=0, max=100, help="How many recent verdicts to list.")] = 5,
) -> None:
    """The current run and its progress, the best so far, the last verdicts."""
    from autoresearch.display import summary_lines, verdict_table
    from autoresearch.ledger_client import LedgerClient, LedgerError

    with reported(LedgerError, code=1):
        client = LedgerClient(ledger_url)
        name = client.campaign(campaign)
        for line in summary_lines(client.summary(name)):
            console.print(line, highlight=False, soft_wrap=True)
        rows = client.latest(name, last) if last else []
        if rows:
            console.print(verdict_table(rows, f"last {len(rows)} verdicts"))
