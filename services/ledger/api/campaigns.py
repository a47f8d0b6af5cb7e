"""Campaign routes: the list, the summary, results.tsv and the progress chart."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import PlainTextResponse, Response

from services.ledger.api.deps import Campaign, View, Store
from services.ledger.chart import ChartUnavailable, render_progress_png
from services.ledger.schemas import ProgressOutline, SummaryOut
from services.ledger.summary import progress_points, summarize
from shared.results_tsv import render_results

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"])


@router.get("")
def list_campaigns(store: Store) -> list[str]:
    """Every campaign the ledger has seen, oldest first."""
    return store.campaigns()


@router.get("/{campaign}/summary", response_model=SummaryOut)
def campaign_summary(view: View) -> SummaryOut:
    """Baseline, best, improvement, outcome counts, the running experiment, wall and idle time."""
    return summarize(view)


@router.get("/{campaign}/results.tsv", response_class=PlainTextResponse)
def results_tsv(campaign: Campaign, store: Store) -> PlainTextResponse:
    """results.tsv in Karpathy's five columns, as a download."""
    return PlainTextResponse(
        render_results(store.verdicts(campaign)), media_type="text/tab-separated-values; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="results-{campaign}.tsv"'},
    )


@router.get("/{campaign}/progress", response_model=ProgressOutline)
def progress_data(view: View) -> ProgressOutline:
    """The chart's points: each decided experiment's val_bpb and the running best after it."""
    return ProgressOutline(campaign=view.campaign, points=progress_points(view))


@router.get("/{campaign}/progress.png", response_class=Response, responses={200: {"content": {"image/png": {}}}})
def progress_png(
    view: View,
    width: Annotated[int, Query(ge=320, le=4000, description="Pixels.")] = 1200,
    height: Annotated[int, Query(ge=240, le=3000, description="Pixels.")] = 600,
) -> Response:
    """The progress chart as a PNG."""
    try:
        png = render_progress_png(view.campaign, progress_points(view), width, height)
    except ChartUnavailable as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from None
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})
