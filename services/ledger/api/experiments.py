"""Experiment routes: a filtered, paginated table and one experiment in full."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from services.ledger.api.deps import View
from services.ledger.schemas import ExperimentDetail, ExperimentOut, ExperimentPage, ExperimentStatus

router = APIRouter(prefix="/api/campaigns/{campaign}/experiments", tags=["experiments"])
ROW_FIELDS = set(ExperimentOut.model_fields)


@router.get("", response_model=ExperimentPage)
def list_experiments(
    view: View,
    offset: Annotated[int, Query(ge=0, description="Rows to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500, description="Rows to return.")] = 100,
    status: Annotated[list[ExperimentStatus] | None, Query(description="Only these statuses; repeat to give several.")] = None,
    order: Annotated[Literal["asc", "desc"], Query(description="asc: oldest first; desc: newest first.")] = "asc",
) -> ExperimentPage:
    """Experiments in order of first appearance, optionally of some statuses, a page at a time."""
    rows = [row for row in view.experiments if not status or row.status in status]
    if order == "desc":
        rows.reverse()
    items = [ExperimentOut.model_validate(row.model_dump(include=ROW_FIELDS)) for row in rows[offset:offset + limit]]
    return ExperimentPage(campaign=view.campaign, total=len(rows), offset=offset, limit=limit, items=items)


@router.get("/{experiment_id}", response_model=ExperimentDetail)
def get_experiment(view: View, experiment_id: str) -> ExperimentDetail:
    """One experiment in full: proposal, diff, run metrics, log tail, verdict, environment."""
    for row in view.experiments:
        if row.experiment_id == experiment_id:
            return row
    raise HTTPException(status_code=404, detail=f"no experiment {experiment_id!r} in campaign {view.campaign!r}")
