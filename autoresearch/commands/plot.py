"""`autoresearch plot`: the progress chart as a PNG file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from autoresearch.commands.ledger_options import DEFAULT_LEDGER_URL, CampaignName, LedgerUrl
from autoresearch.terminal import console, reported


def plot(
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the PNG.")] = Path("progress.png"),
    ledger_url: LedgerUrl = DEFAULT_LEDGER_URL, campaign: CampaignName = None,
    width: Annotated[int, typer.Option(min=320, max=4000, help="Pixels.")] = 1200,
    height: Annotated[int, typer.Option(min=240, max=3000, help="Pixels.")] = 600,
) -> None:
    """Save the progress chart (val_bpb per experiment, running best, kept ideas labelled) as a PNG."""
    from autoresearch.ledger_client import LedgerClient, LedgerError

    with reported(LedgerError, code=1):
        client = LedgerClient(ledger_url)
        name = client.campaign(campaign)
        output.write_bytes(client.progress_png(name, width, height))
        console.print(f"wrote {output} ({width}x{height}, campaign {name})", highlight=False)
