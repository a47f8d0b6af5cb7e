"""Sections of the prompt drawn from the campaign's history and the files at the base commit."""

from __future__ import annotations

import ast
from collections.abc import Sequence

from services.proposer.llm.figures import summary_line
from services.proposer.llm.novelty import change_signature
from services.proposer.records import ExperimentRecord, in_flight

LOG_LINES = 50
IN_FLIGHT_LINES = 4  # lines shown per experiment in flight; enough to name what it touches


def prepare_constants(prepare_py: str) -> str:
    """The module-level UPPER_CASE assignments of prepare.py, with their comments."""
    try:
        tree = ast.parse(prepare_py)
    except SyntaxError:
        return ""
    lines = prepare_py.splitlines()
    found = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        if names and all(n.isupper() for n in names) and node.end_lineno - node.lineno < 3:
            found.append("\n".join(lines[node.lineno - 1: node.end_lineno]))
    return "\n".join(found)


def in_order(records: Sequence[ExperimentRecord]) -> list[ExperimentRecord]:
    """Records with the baseline first: with lookahead, proposals are made before the baseline has run."""
    return sorted(records, key=lambda r: not r.baseline)


def best(records: Sequence[ExperimentRecord]) -> ExperimentRecord | None:
    """The kept experiment with the lowest val_bpb."""
    kept = [r for r in records if r.status == "keep" and r.val_bpb is not None]
    return min(kept, key=lambda r: r.val_bpb) if kept else None


def last_run(records: Sequence[ExperimentRecord]) -> ExperimentRecord | None:
    """The most recent experiment that finished training (the baseline included)."""
    return next((r for r in reversed(records) if r.run_status is not None and r.settled), None)


def commit_log(records: Sequence[ExperimentRecord], recent: int = 30) -> str:
    """The branch's story: the baseline and the latest kept changes, oldest first."""
    lines, previous = [], None
    for r in records:
        if r.status != "keep":
            continue
        delta = f" ({r.val_bpb - previous:+.6f})" if previous is not None and r.val_bpb is not None else ""
        name = "baseline" if r.baseline else r.description
        score = f"{r.val_bpb:.6f}" if r.val_bpb is not None else "-"
        lines.append(f"- {r.experiment_id}: {name}: val_bpb {score}{delta}")
        previous = r.val_bpb if r.val_bpb is not None else previous
    if len(lines) > recent:
        lines = [f"- ({len(lines) - recent} earlier kept changes)", *lines[-recent:]]
    return "\n".join(lines)


def standing(records: Sequence[ExperimentRecord]) -> str:
    """The best so far, the baseline, and how far the last result is from the best."""
    top = best(records)
    if top is None:
        base = next((r for r in records if r.baseline and r.settled), None)
        if base is not None:  # the baseline was decided but nothing is kept: no score to beat, only a run to fix
            return f"No kept result: the baseline ended as {base.run_status or base.status}; make train.py run."
        return "No result yet: the baseline has not been scored."
    lines = [f"Best val_bpb so far: {top.val_bpb:.6f} ({'baseline' if top.baseline else top.description}). Lower is better."]
    base = next((r for r in records if r.baseline and r.val_bpb is not None), None)
    if base is not None and base is not top:
        gain = base.val_bpb - top.val_bpb
        lines.append(f"Baseline: {base.val_bpb:.6f}; improvement so far {gain:.6f} ({100 * gain / base.val_bpb:.2f}%).")
    last = last_run(records)
    if last is not None and last is not top and last.val_bpb is not None:
        lines.append(f"Last result: {last.val_bpb:.6f} ({last.status}), {last.val_bpb - top.val_bpb:+.6f} from the best.")
    return "\n".join(lines)


def latest_noise(records: Sequence[ExperimentRecord]) -> ExperimentRecord | None:
    """The most recently decided experiment whose verdict carried the campaign's noise estimate."""
    measured = [r for r in records if r.sigma is not None]
    # reversed: among verdicts with no time to tell them apart, the later record wins
    return max(reversed(measured), key=lambda r: r.decided_at.timestamp() if r.decided_at else 0.0, default=None)


def noise(records: Sequence[ExperimentRecord]) -> str:
    """What a change must show to be kept, from the latest verdict's noise estimate; empty before there is one."""
    latest = latest_noise(records)
    if latest is None:
        return ""
    lines = [
        f"Run-to-run noise σ̂ = {latest.sigma:.6f} val_bpb: the same train.py scores about this much apart from one run "
        "to the next, so a single run's result is a noisy draw."
    ]
    if latest.clear_gain is not None:
        best_now = f" ({latest.best_after:.6f})" if latest.best_after is not None else ""
        lines.append(
            f"A single run must beat the current best{best_now}, the mean of its runs, by {latest.clear_gain:.6f} to be "
            "kept at once; smaller apparent gains are run again to confirm them, and a change that cannot be told "
            "apart from the best is kept only when it removes code."
        )
    lines.append("Prefer changes whose effect can be larger than the noise.")
    return "\n".join(lines)


def loss_brief(curve: Sequence[tuple[int, float]], points: int = 8) -> str:
    """A few points of a loss curve, first and last included."""
    if not curve:
        return ""
    picks = sorted({round(i * (len(curve) - 1) / max(points - 1, 1)) for i in range(points)})
    return ", ".join(f"step {curve[i][0]}: {curve[i][1]:.4f}" for i in picks)


def previous_run(records: Sequence[ExperimentRecord]) -> str:
    """What the last run did: its result, its summary metrics, its training loss in brief."""
    last = last_run(records)
    if last is None:
        return ""
    name = "the baseline" if last.baseline else f"{last.experiment_id} ({last.description})"
    mean = last.runs > 1 and last.val_bpb is not None
    lines = [f"The last finished run was {name}: {last.status}"
             + (f", val_bpb {last.val_bpb:.6f} as the mean of {last.runs} runs." if mean else ".")]
    if last.metrics:
        summary = "Summary of its last run: " if last.runs > 1 else "Summary: "
        lines.append(summary + summary_line(last.metrics))
    if last.loss_curve:
        lines.append("Training loss: " + loss_brief(last.loss_curve))
    top = best(records)
    if top is not None and top is not last and top.loss_curve:
        lines.append("For comparison, the best run's training loss: " + loss_brief(top.loss_curve))
    return "\n".join(lines)


def crash_report(records: Sequence[ExperimentRecord]) -> str:
    """After a crash: the change that crashed and the last lines of its log, so it can be repaired."""
    last = last_run(records)
    if last is None or last.status != "crash":
        return ""
    tail = "\n".join(last.log_tail.splitlines()[-LOG_LINES:])
    changes = "\n".join(f"search:\n{e.search}\nreplace:\n{e.replace}" for e in last.edits[:4])
    text = (
        f"The last run, {last.experiment_id} ({last.description}), crashed ({last.run_status or 'crash'}). "
        "The branch was reset, so train.py below does not contain its change.\n"
        f"Its change:\n```\n{changes[:4000]}\n```\nThe last {LOG_LINES} lines of its log:\n```\n{tail}\n```\n"
        'If the idea is still worth a run, fix the bug and propose it again with "kind": "repair"; otherwise move on.'
    )
    later = [r for r in records[records.index(last) + 1:] if r.kind == "repair"]
    if later:
        text += f"\nA repair is already proposed: {later[-1].experiment_id} ({later[-1].description})."
    return text


def rejections(records: Sequence[ExperimentRecord], recent: int = 6) -> str:
    """Recent proposals the editor refused, with its reasons, so the next one avoids the same mistake."""
    rejected = [r for r in records[-recent:] if r.status == "rejected"]
    return "\n".join(f"- {r.experiment_id} ({r.description}): {r.reason[:400]}" for r in rejected)


def no_improvement_streak(records: Sequence[ExperimentRecord]) -> int:
    """Decided experiments since the last kept one; rejections and runs in flight are not counted."""
    streak = 0
    for r in reversed(records):
        if r.status == "keep":
            break
        if r.status in ("discard", "crash"):
            streak += 1
    return streak


def edited_lines(record: ExperimentRecord) -> list[str]:
    """The lines of train.py an experiment's edits replace (or, for a pure insertion, the line it anchors on)."""
    removed = sorted(c[2:] for c in change_signature(record.edits) if c.startswith("- "))
    anchors = [line.strip() for e in record.edits for line in e.search.splitlines()[:1] if line.strip()]
    return removed or anchors


def flight_list(records: Sequence[ExperimentRecord], experiment_id: str) -> str:
    """Experiments proposed and not yet decided, with the lines each edits: a change to the same lines collides."""
    lines = []
    for r in in_flight(list(records), experiment_id):
        edited = edited_lines(r)
        shown = ", ".join(f"`{line[:160]}`" for line in edited[:IN_FLIGHT_LINES])
        more = f" and {len(edited) - IN_FLIGHT_LINES} more lines" if len(edited) > IN_FLIGHT_LINES else ""
        lines.append(f"- {r.experiment_id} ({r.description[:200]}): edits {shown or 'train.py'}{more}")
    return "\n".join(lines)
