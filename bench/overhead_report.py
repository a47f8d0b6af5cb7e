"""The overhead benchmark's figures, from the sides' campaigns, and the markdown tables that print them."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence

from overhead_runs import Side

TARGETS = {  # row → (target text, test on the row's figure for one lookahead)
    "ratio": ("≤ 1.12 at lookahead 1", None),
    "launch": ("≤ 2 s", lambda v: v <= 2.0),
    "verdict_exit": ("≤ 1 s", lambda v: v <= 1.0),
    "gaps": ("p99 ≤ 0.1 s", lambda v: v <= 0.1),
}


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile by nearest rank (p99 of fewer than 100 gaps is the largest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else math.nan


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def spans(side: Side) -> list[tuple[float, float]]:
    """Each run's (start, end) as train.py noted them, in the order they started."""
    return sorted((run["start"], run["end"]) for run in side.runs)


def gaps(side: Side) -> list[float]:
    """Seconds between one run's end and the next run's start."""
    ordered = spans(side)
    return [later[0] - earlier[1] for earlier, later in zip(ordered, ordered[1:])]


def launch_to_first_run(side: Side) -> float:
    return spans(side)[0][0] - side.launched


def last_run_to_exit(side: Side) -> float:
    return side.exited - max(end for _, end in spans(side))


def last_verdict_to_exit(side: Side) -> float:
    return side.exited - side.verdicts[-1] if side.verdicts else math.nan


def orchestration_cpu(side: Side) -> float:
    """CPU seconds of everything the side ran, less what the training runs spent themselves."""
    return side.cpu - sum(run["cpu"] for run in side.runs)


def duty(side: Side) -> float:
    """Share of the span from the first run's start to the last run's end spent inside runs."""
    ordered = spans(side)
    return sum(end - start for start, end in ordered) / (ordered[-1][1] - ordered[0][0])


def wall(side: Side) -> float:
    return side.exited - side.launched


class Figures:
    """Every row of the table for one column: the campaigns of one lookahead (or the bash loop), over the pairs."""

    def __init__(self, sides: list[Side], loops: list[Side] | None = None) -> None:
        self.sides = sides
        self.ratios = [wall(side) / wall(loop) for side, loop in zip(sides, loops)] if loops else [1.0] * len(sides)
        self.gaps = [gap for side in sides for gap in gaps(side)]

    def over_pairs(self, figure: Callable[[Side], float]) -> float:
        return median([figure(side) for side in self.sides])

    def value(self, row: str) -> float:
        """The figure a target is checked against."""
        return {"ratio": median(self.ratios), "launch": self.over_pairs(launch_to_first_run),
                "verdict_exit": self.over_pairs(last_verdict_to_exit), "gaps": quantile(self.gaps, 0.99)}[row]

    def cells(self) -> dict[str, str]:
        spread = f" ({min(self.ratios):.2f}–{max(self.ratios):.2f})" if len(self.ratios) > 1 else ""
        waits = [wait for side in self.sides for wait in side.tickets]
        return {
            "ratio": f"{median(self.ratios):.2f}{spread}",
            "wall": f"{self.over_pairs(wall):.1f} s",
            "launch": f"{self.over_pairs(launch_to_first_run):.2f} s",
            "run_exit": f"{self.over_pairs(last_run_to_exit):.2f} s",
            "verdict_exit": _seconds(self.over_pairs(last_verdict_to_exit)),
            "gaps": " / ".join(f"{quantile(self.gaps, q):.3f}" for q in (0.5, 0.9, 0.99)) + " s",
            "cpu": f"{self.over_pairs(orchestration_cpu):.1f}",
            "duty": f"{100 * self.over_pairs(duty):.1f}%",
            "tickets": _seconds(quantile(waits, 0.5)) if waits else "—",
        }


def _seconds(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.2f} s"


ROWS = (
    ("ratio", "wall ratio to bash (median of pairs, range)"),
    ("wall", "wall time, launch → exit"),
    ("launch", "launch → baseline run starts"),
    ("run_exit", "last run's end → exit"),
    ("verdict_exit", "last verdict → exit"),
    ("gaps", "gap between runs p50 / p90 / p99"),
    ("cpu", "CPU seconds of the orchestration"),
    ("duty", "duty, first run's start → last run's end"),
    ("tickets", "ticket → proposal p50 (in the campaigns)"),
)


def campaign_table(columns: dict[int, Figures], loop: Figures) -> str:
    """The comparison as markdown: a column per lookahead, the bash loop, the target and whether it is met."""
    lines = ["| figure | " + " | ".join(f"lookahead {la}" for la in columns) + " | bash loop | target | met |",
             "|---|" + "---|" * (len(columns) + 3)]
    loop_cells = loop.cells()
    loop_cells.update(ratio="1", verdict_exit="—", tickets="—")
    for row, label in ROWS:
        target, check = TARGETS.get(row, ("", None))
        met = ""
        if row == "ratio" and 1 in columns:
            met = "yes" if columns[1].value("ratio") <= 1.12 else "no"
        elif check is not None:
            met = " · ".join(f"la {la}: {'yes' if check(f.value(row)) else 'no'}" for la, f in columns.items())
        cells = [f.cells()[row] for f in columns.values()]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {loop_cells[row]} | {target} | {met} |")
    return "\n".join(lines)


HISTORY_ROWS = (
    ("proposer_llm", "ticket → proposal, LLM proposer (stand-in model answering at once)"),
    ("proposer_search", "ticket → proposal, search proposer"),
    ("api_ten", "GET /api/campaigns/{c}/experiments?limit=10 (the same answer at every size)"),
    ("api_page", "GET /api/campaigns/{c}/experiments (first page, up to 100)"),
    ("api_all", "GET /api/campaigns/{c}/experiments?limit=500"),
)


def history_table(figures: dict[int, dict[str, float]]) -> str:
    """Latencies (medians) at each record size, as markdown."""
    lines = ["| figure | " + " | ".join(f"{size} experiments" for size in figures) + " |",
             "|---|" + "---|" * len(figures)]
    for key, label in HISTORY_ROWS:
        lines.append(f"| {label} | " + " | ".join(f"{1000 * row[key]:.1f} ms" for row in figures.values()) + " |")
    return "\n".join(lines)
