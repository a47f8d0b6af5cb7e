"""The figures of one chaos round, checked against the targets and printed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from chaos_plan import Plan


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


@dataclass
class Report:
    """Every figure of one chaos round."""

    plan: Plan
    wall: float
    kills: Counter
    sessions: int
    exits: list[tuple[int, str]]
    left_behind: int
    fuzz: Counter
    record: dict[str, int]
    runs: dict[str, object]
    branch: dict[str, object]
    recovery: dict[str, tuple[int, float | None, float | None, int]]
    aborted: str

    @property
    def lost(self) -> int:
        return self.record["verdicts missing from results.tsv"] + self.record["rows without a verdict"]

    @property
    def duplicated(self) -> int:
        return self.record["duplicate rows"] + self.record["experiments decided twice"]

    def targets(self) -> list[tuple[str, bool, str]]:
        """The issue's targets: (target, met, figure)."""
        rows, asked = self.record["rows"], 1 + self.plan.experiments
        double = self.runs["runs after the commit's result was published"]
        concurrent = self.runs["runs started while another was running"] + self.runs["finished runs overlapping another"]
        all_p50 = [f[1] for name, f in self.recovery.items() if name in ("service", "nats", "up")]
        return [
            ("0 lost experiments", self.lost == 0, str(self.lost)),
            ("0 duplicated experiments", self.duplicated == 0, str(self.duplicated)),
            ("0 double runs", double == 0, str(double)),
            ("0 concurrent runs", concurrent == 0, str(concurrent)),
            ("limit exact", rows == asked and self.record["decided"] == self.plan.experiments,
             f"{rows} rows of {asked}, {self.record['decided']} decided of {self.plan.experiments}"),
            ("branch right", self.branch["tip is the last kept commit"] and not self.branch["kept commits not in the branch"],
             f"tip is the last kept commit: {self.branch['tip is the last kept commit']}, "
             f"kept commits not in the branch: {self.branch['kept commits not in the branch']}"),
            ("recovery p50 < 5 s", all(p is not None and p < 5.0 for p in all_p50),
             ", ".join(f"{name} {seconds(f[1])}" for name, f in self.recovery.items() if name in ("service", "nats", "up"))),
        ]

    def print(self) -> None:
        plan = self.plan
        print(f"chaos: {plan.experiments} experiments asked, seed {plan.seed}: {plan.service_kills} service kills, "
              f"{plan.nats_kills} NATS kills ({plan.outage:g} s outages), {plan.up_kills} `up` kills, {plan.fuzz} fuzz rounds; "
              f"watching {'>' if plan.watch_all else 'each event subject'}")
        if self.aborted:
            print(f"ABORTED: {self.aborted}")
        print(f"wall time: {self.wall:.1f} s")
        planned, done = plan.service_kills + plan.nats_kills + plan.up_kills, sum(self.kills.values())
        print(f"kills: {done} of {planned} planned" + (" (the campaign ended before the rest)" if done < planned else "")
              + ": " + " · ".join(f"{name} {n}" for name, n in sorted(self.kills.items())))
        print(f"`up` sessions: {self.sessions}; ended early: "
              + ("; ".join(f"exit {code} ({why[:160]})" for code, why in self.exits) or "none"))
        print(f"service processes left behind by a dead `up`: {self.left_behind}")
        fuzz = {k: v for k, v in self.fuzz.items() if k != "bytes"}
        print(f"fuzz: {sum(fuzz.values())} messages, {self.fuzz['bytes'] / 1e6:.1f} MB: "
              + ", ".join(f"{k} {v}" for k, v in sorted(fuzz.items())))
        print(f"rows in results.tsv: {self.record['rows']} (asked {1 + plan.experiments}); "
              f"experiments decided: {self.record['decided']} (asked {plan.experiments})")
        for name in ("duplicate rows", "experiments decided twice", "verdicts missing from results.tsv", "rows without a verdict"):
            print(f"{name}: {self.record[name]}")
        for name, value in self.runs.items():
            print(f"{name}: {value}")
        for name, value in self.branch.items():
            print(f"{name}: {value}")
        print("recovery (kill to the next run.started or verdict.decided):")
        for name, (kills, p50, worst, never) in self.recovery.items():
            print(f"  {name:<22} {kills:>3} kills · p50 {seconds(p50)} · max {seconds(worst)}"
                  + (f" · {never} never recovered" if never else ""))
        print("targets:")
        for target, met, figure in self.targets():
            print(f"  {'PASS' if met else 'FAIL'}  {target}: {figure}")
