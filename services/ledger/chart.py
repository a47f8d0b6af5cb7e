"""The progress chart as a PNG: every experiment's val_bpb, the running best, kept ideas labelled."""

from __future__ import annotations

import io
import textwrap

from services.ledger.schemas import ProgressPoint
from shared.text import printable

KEEP, DISCARD, CRASH, BEST = "#2e9d57", "#a7adb5", "#d64541", "#1f5fa8"


class ChartUnavailable(RuntimeError):
    """matplotlib is not installed."""


def render_progress_png(campaign: str, points: list[ProgressPoint], width: int = 1200, height: int = 600) -> bytes:
    """Draw the chart at width x height pixels and return the PNG bytes."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ChartUnavailable("the progress chart needs matplotlib: pip install matplotlib") from exc
    # Figure without pyplot: no global state, so API worker threads can draw side by side.
    figure = Figure(figsize=(width / 100, height / 100), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    main, strip = figure.subplots(2, 1, sharex=True, height_ratios=[7, 1])
    scored = [p for p in points if p.val_bpb is not None and p.status != "crash"]
    kept = [p for p in scored if p.status == "keep"]
    discarded = [p for p in scored if p.status != "keep"]
    crashed = [p for p in points if p not in scored]
    last = max((p.number for p in points), default=0)
    main.scatter([p.number for p in discarded], [p.val_bpb for p in discarded], s=18, color=DISCARD,
                 label=f"discarded ({len(discarded)})", zorder=2)
    main.scatter([p.number for p in kept], [p.val_bpb for p in kept], s=46, color=KEEP, edgecolor="black", linewidth=0.5,
                 label=f"kept ({len(kept)})", zorder=3)
    best = [(p.number, p.best) for p in points if p.best is not None]
    if best:
        steps_x = [n for n, _ in best] + [last]
        steps_y = [b for _, b in best] + [best[-1][1]]
        main.step(steps_x, steps_y, where="post", color=BEST, linewidth=1.6, label="running best", zorder=1)
    for p in kept:
        label = textwrap.shorten(printable(p.description) or p.experiment_id, width=48, placeholder="…")
        leftwards = p.number > 0.7 * last  # labels near the right edge run leftwards, inside the figure
        main.annotate(label, (p.number, p.val_bpb or 0.0), xytext=(-6 if leftwards else 6, 8), textcoords="offset points",
                      fontsize=7.5, rotation=-18 if leftwards else 18, ha="right" if leftwards else "left",
                      rotation_mode="anchor", color="#1d3b2a", zorder=4,
                      parse_math=False)  # a description is the model's text: '$' is a dollar, never TeX to typeset
    main.set_ylabel("val_bpb (lower is better)")
    main.margins(y=0.15)  # room for the labels of the highest and lowest kept points
    main.grid(alpha=0.25)
    decided = len(points)
    title = f"{campaign}: {decided} experiments, {len(kept)} kept, {len(crashed)} crashed"
    if kept:
        title += f" · best {min(p.val_bpb or 0.0 for p in kept):.6f}"
    main.set_title(title, fontsize=11)
    if points:
        main.legend(loc="best", fontsize=8, framealpha=0.85)
    else:
        main.text(0.5, 0.5, "no experiment decided yet", ha="center", va="center", transform=main.transAxes, color="#666")
        main.set_yticks([])
        strip.set_xticks([])
    # crashes have no val_bpb, so they get a strip of their own under the chart
    strip.scatter([p.number for p in crashed], [0] * len(crashed), marker="x", s=40, color=CRASH, label="crash")
    strip.set_yticks([])
    strip.set_ylabel("crash", rotation=0, ha="right", va="center", color=CRASH)
    strip.set_xlabel("experiment #")
    strip.grid(axis="x", alpha=0.25)
    strip.set_xlim(-0.5, last + 0.5)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
