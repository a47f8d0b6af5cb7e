"""The few reads the commands make of the ledger's HTTP API, with errors a person can act on."""

from __future__ import annotations

from typing import Any

import httpx

from services.ledger.schemas import DECIDED


class LedgerError(Exception):
    """The ledger could not answer; the message says what to do."""


class LedgerClient:
    """A synchronous client of the ledger's read API."""

    def __init__(self, base_url: str, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, timeout=30.0, transport=transport)

    def get(self, path: str, **params: Any) -> httpx.Response:
        """GET a path; a refused connection or an error status becomes a LedgerError."""
        try:
            response = self.http.get(path, params={k: v for k, v in params.items() if v is not None})
        except httpx.TransportError as exc:
            raise LedgerError(
                f"cannot reach the ledger at {self.base_url} ({exc.__class__.__name__}); is `autoresearch up` running? "
                "Point --ledger-url or AUTORESEARCH_LEDGER_URL at it."
            ) from None
        if response.is_error:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise LedgerError(f"the ledger answered {response.status_code}: {detail}")
        return response

    def campaign(self, given: str | None) -> str:
        """The named campaign, else the one the ledger saw last."""
        if given:
            return given
        campaigns = self.get("/api/campaigns").json()
        if not campaigns:
            raise LedgerError(f"the ledger at {self.base_url} has no campaign yet")
        return campaigns[-1]

    def summary(self, campaign: str) -> dict[str, Any]:
        """The campaign's summary."""
        return self.get(f"/api/campaigns/{campaign}/summary").json()

    def latest(self, campaign: str, count: int) -> list[dict[str, Any]]:
        """The last count decided experiments, oldest first."""
        page = self.get(f"/api/campaigns/{campaign}/experiments", status=list(DECIDED), order="desc", limit=count).json()
        return list(reversed(page["items"]))

    def decided(self, campaign: str) -> list[dict[str, Any]]:
        """Every decided experiment, oldest first, a page at a time."""
        rows: list[dict[str, Any]] = []
        while True:
            page = self.get(f"/api/campaigns/{campaign}/experiments", status=list(DECIDED), offset=len(rows), limit=500).json()
            rows += page["items"]
            if not page["items"] or len(rows) >= page["total"]:
                return sorted(rows, key=lambda row: row["number"])

    def progress_png(self, campaign: str, width: int, height: int) -> bytes:
        """The progress chart as PNG bytes."""
        return self.get(f"/api/campaigns/{campaign}/progress.png", width=width, height=height).content
