"""The read API's JSON, rendered from a campaign view: rows and chart points rendered once per change, then reused."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime

from services.ledger.experiments import CampaignView
from services.ledger.schemas import ExperimentDetail, ExperimentOut, SummaryOut
from services.ledger.summary import progress_point, summarize
from shared.events import utc_now

ROW_FIELDS = set(ExperimentOut.model_fields)


def row_json(view: CampaignView, row: ExperimentDetail) -> bytes:
    """One experiment as a row of the table (ExperimentOut), rendered again only after its experiment changed."""
    key = ("row", row.experiment_id)
    if (cached := view.cache.get(key)) is None:
        cached = view.cache[key] = row.model_dump_json(include=ROW_FIELDS).encode()
    return cached


def point_json(view: CampaignView, row: ExperimentDetail) -> bytes:
    """One decided experiment as a point of the progress chart, rendered again only after its experiment changed."""
    key = ("point", row.experiment_id)
    if (cached := view.cache.get(key)) is None:
        cached = view.cache[key] = progress_point(row).model_dump_json().encode()
    return cached


def page_rows(
    view: CampaignView, offset: int, limit: int, statuses: Collection[str] | None = None, newest_first: bool = False,
) -> tuple[int, list[ExperimentDetail]]:
    """(rows matching, the page's rows): a slice of the view's list, filtered first only when statuses are given."""
    rows = view.experiments if not statuses else [row for row in view.experiments if row.status in statuses]
    total = len(rows)
    if not newest_first:
        return total, rows[offset:offset + limit]
    end = max(total - offset, 0)
    return total, rows[max(end - limit, 0):end][::-1]


def page_json(
    view: CampaignView, offset: int, limit: int, statuses: Collection[str] | None = None, newest_first: bool = False,
) -> bytes:
    """An ExperimentPage as JSON."""
    total, rows = page_rows(view, offset, limit, statuses, newest_first)
    items = b",".join(row_json(view, row) for row in rows)
    return b'{"campaign":%s,"total":%d,"offset":%d,"limit":%d,"items":[%s]}' % (
        text(view.campaign), total, offset, limit, items,
    )


def progress_json(view: CampaignView) -> bytes:
    """A ProgressOutline as JSON: every decided experiment in decision order."""
    points = b",".join(point_json(view, row) for row in view.decided)
    return b'{"campaign":%s,"points":[%s]}' % (text(view.campaign), points)


def current_summary(view: CampaignView, now: datetime | None = None) -> SummaryOut:
    """The campaign's summary, worked out again only after the view changed; only a running run's elapsed time moves."""
    if view.summary_memo is None or view.summary_memo[0] != view.version:
        view.summary_memo = (view.version, summarize(view))
    summary = view.summary_memo[1]
    if summary.running is None:
        return summary
    elapsed = max(((now or utc_now()) - summary.running.started_at).total_seconds(), 0.0)
    return summary.model_copy(update={"running": summary.running.model_copy(update={"elapsed_seconds": elapsed})})


def dashboard_json(view: CampaignView, campaigns: list[str], limit: int) -> bytes:
    """What the dashboard shows, in one answer: the campaigns, the summary, the chart and the newest rows."""
    return b'{"campaigns":%s,"summary":%s,"progress":%s,"experiments":%s}' % (
        json.dumps(campaigns, ensure_ascii=False).encode(), current_summary(view).model_dump_json().encode(),
        progress_json(view), page_json(view, 0, limit, newest_first=True),
    )


def text(value: str) -> bytes:
    """A JSON string."""
    return json.dumps(value, ensure_ascii=False).encode()
