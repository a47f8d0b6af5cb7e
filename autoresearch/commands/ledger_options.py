"""The options every command that reads the ledger's API takes."""

from __future__ import annotations

from typing import Annotated

import typer

DEFAULT_LEDGER_URL = "http://127.0.0.1:8750"

LedgerUrl = Annotated[str, typer.Option("--ledger-url", envvar="AUTORESEARCH_LEDGER_URL", help="The ledger's read API.")]
CampaignName = Annotated[str | None, typer.Option("--campaign", help="Campaign tag (default: the latest one).")]
