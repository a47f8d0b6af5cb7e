"""The ledger's read API: campaigns, experiments, results.tsv, health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from services.ledger.results import render_results
from services.ledger.store import EventStore
from shared.events import CommitMade, ProposalCreated, RunFinished, VerdictDecided


class ExperimentOut(BaseModel):
    """One experiment as the API shows it."""

    experiment_id: str
    commit: str | None = None
    description: str = ""
    status: str = "pending"
    val_bpb: float | None = None
    memory_gb: float | None = None
    reason: str = ""
    diff: str | None = None


class ExperimentPage(BaseModel):
    """A page of experiments."""

    campaign: str
    total: int
    offset: int
    limit: int
    items: list[ExperimentOut]


def get_store(request: Request) -> EventStore:
    return request.app.state.store


Store = Annotated[EventStore, Depends(get_store)]
router = APIRouter()


def experiments_of(store: EventStore, campaign: str) -> list[ExperimentOut]:
    """Fold a campaign's stored events into one row per experiment."""
    rows: dict[str, ExperimentOut] = {}
    for event in store.events(campaign, ["proposal.created", "commit.made", "run.finished", "verdict.decided"]):
        row = rows.setdefault(event.experiment_id, ExperimentOut(experiment_id=event.experiment_id))
        if isinstance(event, ProposalCreated):
            row.description = event.description
        elif isinstance(event, CommitMade):
            row.commit, row.diff = event.commit, event.diff
        elif isinstance(event, RunFinished):
            row.commit, row.description = event.commit, event.description or row.description
            row.status = "running" if row.status == "pending" else row.status
        elif isinstance(event, VerdictDecided):
            row.status, row.val_bpb, row.memory_gb, row.reason = event.status, event.val_bpb, event.memory_gb, event.reason
    return list(rows.values())


def _known(store: EventStore, campaign: str) -> None:
    if campaign not in store.campaigns():
        raise HTTPException(status_code=404, detail=f"no campaign named {campaign!r}")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/api/campaigns")
def campaigns(store: Store) -> list[str]:
    return store.campaigns()


@router.get("/api/campaigns/{campaign}/experiments", response_model=ExperimentPage)
def experiments(
    campaign: str, store: Store, offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ExperimentPage:
    _known(store, campaign)
    rows = experiments_of(store, campaign)
    return ExperimentPage(campaign=campaign, total=len(rows), offset=offset, limit=limit, items=rows[offset:offset + limit])


@router.get("/api/campaigns/{campaign}/results.tsv", response_class=PlainTextResponse)
def results_tsv(campaign: str, store: Store) -> str:
    _known(store, campaign)
    return render_results(store.verdicts(campaign))


def create_app(store: EventStore) -> FastAPI:
    """The ledger's HTTP application over a store."""
    app = FastAPI(title="autoresearch ledger")
    app.state.store = store
    app.include_router(router)
    return app
