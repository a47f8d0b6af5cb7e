"""Campaign routes: the list, the summary, results.tsv and the progress chart."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import PlainTextResponse, Response

from services.ledger.api.deps import Views, campaign_view
from services.ledger.chart import ChartUnavailable, render_progress_png
from services.ledger.pages import current_summary, progress_json
from services.ledger.schemas import ProgressOutline, SummaryOut
from services.ledger.summary import progress_points
from shared.results_tsv import render_results

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"])


@router.get("")
def list_campaigns(views: Views) -> list[str]:
    """Every campaign the ledger has seen, oldest first."""
    with views.reading():
        return views.campaigns()


@router.get("/{campaign}/summary", response_model=SummaryOut)
def campaign_summary(campaign: str, views: Views) -> SummaryOut:
    """Baseline, best, improvement, outcome counts, the running experiment, wall and idle time."""
    with campaign_view(views, campaign) as view:
        return current_summary(view)


@router.get("/{campaign}/results.tsv", response_class=PlainTextResponse)
def results_tsv(campaign: str, views: Views) -> PlainTextResponse:
    """results.tsv in Karpathy's five columns, as a download."""
    with campaign_view(views, campaign) as view:
        text = render_results(view.verdicts.values())
    return PlainTextResponse(
        text, media_type="text/tab-separated-values; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="results-{campaign}.tsv"'},
    )


@router.get("/{campaign}/progress", response_model=ProgressOutline)
def progress_data(campaign: str, views: Views) -> Response:
    """The chart's points: each decided experiment's val_bpb and the running best after it."""
    with campaign_view(views, campaign) as view:
        return Response(progress_json(view), media_type="application/json")


@router.get("/{campaign}/progress.png", response_class=Response, responses={200: {"content": {"image/png": {}}}})
def progress_png(
    campaign: str,
    views: Views,
    width: Annotated[int, Query(ge=320, le=4000, description="Pixels.")] = 1200,
    height: Annotated[int, Query(ge=240, le=3000, description="Pixels.")] = 600,
) -> Response:
    """The progress chart as a PNG."""
    with campaign_view(views, campaign) as view:
        points = progress_points(view)
    try:
        png = render_progress_png(campaign, points, width, height)
    except ChartUnavailable as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from None
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})
