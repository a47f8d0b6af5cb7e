"""The noise benchmark's table, its targets beside the figures, and the figures as JSON."""

from __future__ import annotations

from dataclasses import dataclass

from noise_figures import RowFigures

FALSE_KEEPS_MAX = 0.02
LARGE_GAIN = 3.0  # σ
LARGE_GAINS_KEPT_MIN = 0.95


@dataclass
class Target:
    """One target, the figure it is held against, and whether the figure meets it."""

    sigma: float
    rule: str
    name: str
    figure: str
    target: str
    met: bool | None  # None: nothing to judge (no keeps, no such gains, no greedy row)


def share(kept: int, of: int) -> str:
    return f"{kept}/{of} ({100 * kept / of:.0f}%)" if of else "0/0"


def number(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def targets(rows: list[RowFigures], baseline_runs: int) -> list[Target]:
    """Each rule's targets at each noise level (greedy's own aside), greedy's figures as the yardstick where asked."""
    found = []
    for row in rows:
        if row.rule == "greedy":
            continue
        keeps, false_keeps = row.total("keeps"), row.total("false_keeps")
        found.append(Target(row.sigma, row.rule, "false keeps / keeps", share(false_keeps, keeps), f"<= {FALSE_KEEPS_MAX:.0%}",
                            false_keeps <= FALSE_KEEPS_MAX * keeps if keeps else None))
        kept, of = row.above(LARGE_GAIN)
        found.append(Target(row.sigma, row.rule, "real gains > 3σ kept" if row.sigma else "real gains kept", share(kept, of),
                            f">= {LARGE_GAINS_KEPT_MIN:.0%}", kept >= LARGE_GAINS_KEPT_MIN * of if of else None))
        greedy = next((r for r in rows if r.rule == "greedy" and r.sigma == row.sigma), None)
        mine, theirs = row.mean("final_true"), greedy.mean("final_true") if greedy else None
        found.append(Target(row.sigma, row.rule, "final true value (mean)", number(mine), f"<= greedy's {number(theirs)}",
                            None if mine is None or theirs is None else mine <= theirs + 1e-9))
        if row.sigma == 0:
            most = max(row.known("extra_runs"), default=0)
            found.append(Target(row.sigma, row.rule, "extra runs per campaign (most)", str(most), f"<= {baseline_runs - 1}",
                                most <= baseline_runs - 1))
    return found


def print_table(rows: list[RowFigures], runs: int) -> None:
    """One line per noise level and rule: keeps, false keeps, real gains kept by size, where the campaigns ended."""
    print(f"\nVerdicts under noise, {runs} training runs per campaign (means over campaigns where marked)\n")
    header = ("σ", "rule", "campaigns", "keeps", "false keeps", "kept 2-3σ", "kept 3-5σ", "kept >5σ",
              "final true (mean)", "reported - true (end, lowest)", "extra runs (mean, most)")
    lines = [header]
    for row in rows:
        bands = row.bands()
        kept = [share(*bands[name]) if name in bands else "-" for name in ("2-3σ", "3-5σ", ">5σ")]
        if row.sigma == 0:
            kept = ["-", "-", "all > 0: " + share(*bands[">0"])]
        most = max(row.known("extra_runs"), default=0)
        lines.append((f"{row.sigma:g}", row.rule, str(len(row.campaigns)), str(row.total("keeps")),
                      share(row.total("false_keeps"), row.total("keeps")), *kept, number(row.mean("final_true")),
                      f"{number(row.mean('reported_minus_true'))}, {number(row.lowest('lowest_gap'))}",
                      f"{number(row.mean('extra_runs'), 1)}, {most}"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    print("\nfalse keep: kept, and truly no better than the state it replaced; kept a-bσ: of the changes whose true gain"
          "\nover the kept state was a to b σ, those kept; reported - true: the campaign's best_after minus the true value"
          "\nof its branch tip, at the end (mean) and at any verdict (lowest); extra runs: beyond one per experiment")
    for row in rows:
        for campaign in row.campaigns:
            if campaign.ended != "budget spent":
                print(f"  note: a σ={row.sigma:g} {row.rule} campaign stopped early: {campaign.ended}")
        if undecided := row.total("undecided"):
            print(f"  note: σ={row.sigma:g} {row.rule}: {undecided} experiment(s) still undecided when the budget ran out")


def print_targets(found: list[Target]) -> None:
    """Each target beside its figure."""
    if not found:
        print("\nno rows but greedy's: the targets apply to the rules under noise")
        return
    print("\nTargets\n")
    for target in found:
        mark = {True: "met", False: "MISSED", None: "n/a"}[target.met]
        print(f"  σ={target.sigma:<6g} {target.rule:<6} {target.name:<32} {target.figure:<16} target {target.target:<20} {mark}")


def report_json(rows: list[RowFigures], found: list[Target], settings: dict) -> dict:
    """Everything printed, and each campaign's figures, as one JSON object."""
    return {"settings": settings, "rows": [row.as_json() for row in rows],
            "targets": [target.__dict__ for target in found]}
