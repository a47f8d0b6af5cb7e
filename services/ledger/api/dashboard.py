"""The web dashboard: static HTML, JS and CSS shipped inside the package, no build step, and the one answer it reads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response

from services.ledger.api.deps import Views, campaign_view
from services.ledger.pages import dashboard_json
from services.ledger.schemas import DashboardOut

STATIC = Path(__file__).resolve().parent.parent / "static"
router = APIRouter(tags=["dashboard"])


@router.get("/", include_in_schema=False)
def dashboard() -> FileResponse:
    """The dashboard page; it reads everything else from the JSON API and the event stream."""
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/api/campaigns/{campaign}/dashboard", response_model=DashboardOut)
def dashboard_data(
    campaign: str,
    views: Views,
    limit: Annotated[int, Query(ge=1, le=500, description="Newest experiments to return.")] = 50,
) -> Response:
    """Everything the dashboard shows, in one answer: the campaigns, the summary, the chart and the newest rows."""
    with campaign_view(views, campaign) as view:
        return Response(dashboard_json(view, views.campaigns(), limit), media_type="application/json")
