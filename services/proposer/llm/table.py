"""The table of past experiments, summarized from the oldest end when it outgrows its budget."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from services.proposer.records import ExperimentRecord

HEADER = "| experiment | status | val_bpb | memory_gb | description | note |\n|---|---|---|---|---|---|"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split()).replace("|", "/")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _note(record: ExperimentRecord) -> str:
    if record.status == "pending":
        return "in flight, being run again to confirm" if record.confirming else "in flight, not decided yet"
    if record.status == "rejected":
        return "rejected by the editor: " + _clip(record.reason, 200)
    if record.status == "crash":
        return _clip(f"{record.run_status or 'crash'}: {record.reason}", 120)
    notes = [f"mean of {record.runs} runs"] if record.runs > 1 else []
    return "; ".join(notes + (["repair of a crash"] if record.kind == "repair" else []))


def row(record: ExperimentRecord) -> str:
    """One markdown row: id, status, val_bpb, memory, description, note."""
    bpb = f"{record.val_bpb:.6f}" if record.val_bpb is not None else "-"
    memory = f"{record.memory_gb:.1f}" if record.memory_gb else "-"
    description = "baseline (unchanged train.py)" if record.baseline else _clip(record.description, 200)
    return f"| {record.experiment_id} | {record.status} | {bpb} | {memory} | {description} | {_note(record)} |"


def summary(records: Sequence[ExperimentRecord], room: int) -> str:
    """Older experiments in a few lines: counts, then as many descriptions as fit in room characters."""
    counts = Counter(r.status for r in records)
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    head = f"{len(records)} earlier experiments, summarized to fit ({tally}). Their descriptions, oldest first; do not repeat them:"
    parts: list[str] = []
    used = len(head) + 40  # room for the "... and N more" tail
    for record in records:
        if record.baseline:
            continue
        part = f"{_clip(record.description, 120)} ({record.status})"
        if used + len(part) + 2 > room:
            break
        parts.append(part)
        used += len(part) + 2
    rest = sum(1 for r in records if not r.baseline) - len(parts)
    listed = "; ".join(parts) + (f"; ... and {rest} more" if rest else "")
    return f"{head} {listed}" if listed else head


def experiments_table(records: Sequence[ExperimentRecord], budget: int) -> str:
    """Every experiment as a row when it fits in budget characters, else recent rows under a summary of older ones."""
    rows = [row(r) for r in records]
    text = "\n".join([HEADER, *rows])
    if len(text) <= budget:
        return text
    shown = len(rows)
    while shown > 0:
        shown //= 2
        recent = "\n".join([HEADER, *rows[len(rows) - shown:]]) if shown else ""
        text = summary(records[: len(records) - shown], budget - len(recent) - 1) + ("\n" + recent if recent else "")
        if len(text) <= budget:
            return text
    return text[:budget]
