"""Experiment routes: a filtered, paginated table and one experiment in full."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from services.ledger.api.deps import Views, campaign_view
from services.ledger.pages import page_json
from services.ledger.schemas import ExperimentDetail, ExperimentPage, ExperimentStatus

router = APIRouter(prefix="/api/campaigns/{campaign}/experiments", tags=["experiments"])


@router.get("", response_model=ExperimentPage)
def list_experiments(
    campaign: str,
    views: Views,
    offset: Annotated[int, Query(ge=0, description="Rows to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500, description="Rows to return.")] = 100,
    status: Annotated[list[ExperimentStatus] | None, Query(description="Only these statuses; repeat to give several.")] = None,
    order: Annotated[Literal["asc", "desc"], Query(description="asc: oldest first; desc: newest first.")] = "asc",
) -> Response:
    """Experiments in order of first appearance, optionally of some statuses, a page at a time."""
    with campaign_view(views, campaign) as view:
        return Response(page_json(view, offset, limit, status, newest_first=order == "desc"), media_type="application/json")


@router.get("/{experiment_id}", response_model=ExperimentDetail)
def get_experiment(campaign: str, experiment_id: str, views: Views) -> Response:
    """One experiment in full: proposal, diff, run metrics, log tail, verdict, environment."""
    with campaign_view(views, campaign) as view:
        row = view.by_id.get(experiment_id)
        if row is not None:
            return Response(row.model_dump_json(), media_type="application/json")
    raise HTTPException(status_code=404, detail=f"no experiment {experiment_id!r} in campaign {campaign!r}")
