"""The fields events are made of: patterns, bounds and the bounded types every event contract uses.

Each bound sits well above what the services send, and an event at all of its bounds, every character one
that JSON escapes to two bytes, still fits NATS's default 1 MiB payload (tests/unit/test_event_limits.py).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from shared.edits import EDITS_MAX, Edit, within_edit_budget

SCHEMA_VERSION = 1
CAMPAIGN_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
EXPERIMENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}-[0-9]{4,9}$"  # the campaign and a ticket number (shared/ids.py)
HASH_PATTERN = r"^[0-9a-f]{40}$"  # a full git commit hash, lower case as git writes it

# Bounds, in characters, on what an event may carry. A hostile or broken event is refused when it is
# validated, instead of being handled into a derived event that cannot be built or published. Each bound
# sits well above what the services send, and an event at all of its bounds, every character one that JSON
# escapes to two bytes, still fits NATS's default 1 MiB payload (tests/unit/test_event_limits.py).
MAX_PAYLOAD = 1024 * 1024
EVENT_ID_MAX = 256  # derived ids are an experiment id plus a prefix and a commit hash or two
NAME_MAX = 128  # experiment ids, producers, proposer and model names
REF_MAX = 256  # branch and ref names, object-store keys
DESCRIPTION_MAX = 200
MESSAGE_MAX = 512  # 'experiment: ' and a description
TEXT_MAX = 10_000  # a rationale, a reason
NOTE_MAX = 1_000  # an expected VRAM impact
COMMAND_MAX = 4_096
LOG_TAIL_MAX = 200_000  # the trainer's 50 lines, at 4,000 characters a line
DIFF_MAX = 300_000  # a rewrite of a 120,000-character train.py, removed and added lines both
METRICS_MAX, METRIC_NAME_MAX, METRIC_TEXT_MAX = 128, 64, 500
ENVIRONMENT_MAX = 16  # entries; the trainer records eight
REPEAT_MAX = 64  # runs of one commit within one experiment; the evaluator asks for far fewer
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
NO_CONTROL = r"^[^\x00-\x1f\x7f-\x9f]+$"  # printable on one line (no C0, DEL or C1): safe in a header, a log line, a TSV cell


def _in_era(moment: datetime) -> datetime:
    """The moment, when it lies between EARLIEST and LATEST (a moment without a zone is read as UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    if not EARLIEST <= aware < LATEST:
        raise ValueError(f"must lie between {EARLIEST.year} and {LATEST.year}")
    return moment


def _finite_or_text(metrics: Any) -> Any:
    """Metrics with nan and inf as text: JSON has no such numbers, and a null would not read back."""
    if not isinstance(metrics, dict):
        return metrics
    return {
        key: str(value) if isinstance(value, float) and not math.isfinite(value) else value
        for key, value in metrics.items()
    }


Timestamp = Annotated[datetime, AfterValidator(_in_era)]
Description = Annotated[str, Field(max_length=DESCRIPTION_MAX)]
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX, pattern=NO_CONTROL)]
Ref = Annotated[str, Field(max_length=REF_MAX)]
Metrics = Annotated[
    dict[Annotated[str, Field(max_length=METRIC_NAME_MAX)], float | Annotated[str, Field(max_length=METRIC_TEXT_MAX)]],
    Field(max_length=METRICS_MAX), BeforeValidator(_finite_or_text),
]
Environment = Annotated[
    dict[Annotated[str, Field(max_length=METRIC_NAME_MAX)], Annotated[str, Field(max_length=COMMAND_MAX)]],
    Field(max_length=ENVIRONMENT_MAX),
]
Edits = Annotated[list[Edit], Field(min_length=1, max_length=EDITS_MAX), AfterValidator(within_edit_budget)]
