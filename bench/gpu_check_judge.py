"""The rules a campaign of the GPU check must meet, each a PASS or FAIL line that says why."""

from __future__ import annotations

from dataclasses import dataclass

from gpu_check_campaign import Campaign
from gpu_check_report import SUMMARY_KEYS, Check, Figures, crash_reason, run_device


@dataclass(frozen=True)
class Expectation:
    """What a campaign must show: its size, the device its runs must use, the least duty."""

    experiments: int
    device: str  # "cuda", or "cpu" for the rehearsal with --allow-cpu
    min_duty: float
    timeout_s: float


def judge(label: str, campaign: Campaign, found: Figures, expect: Expectation) -> list[Check]:
    """Every rule, judged on the campaign's exit, its record and its results.tsv."""
    checks = [_ending(label, campaign, expect)]
    checks += [Check(False, f"{label}: {problem}") for problem in campaign.problems]
    baseline = [v for v in found.verdicts if v.baseline]
    if baseline and baseline[-1].status == "keep":
        checks.append(Check(True, f"{label}: baseline kept, val_bpb {baseline[-1].val_bpb:.6f} over {baseline[-1].runs} run(s)"))
    else:
        failed = [r for r in found.runs if r.baseline and r.status != "ok"]
        why = crash_reason(failed[-1]) if failed else (baseline[-1].reason if baseline else "no baseline verdict")
        checks.append(Check(False, f"{label}: baseline not kept: {why[:300]}"))
    decided = len([v for v in found.verdicts if not v.baseline])
    rows = len(campaign.rows)
    checks.append(Check(decided >= expect.experiments and rows == 1 + expect.experiments,
                        f"{label}: {decided} of {expect.experiments} experiments decided, "
                        f"{rows} row(s) in results.tsv (expected {1 + expect.experiments})"))
    ok_runs = [r for r in found.runs if r.status == "ok"]
    elsewhere = [f"{r.commit[:7]} on {run_device(r)}" for r in ok_runs if run_device(r) != expect.device]
    checks.append(Check(bool(ok_runs) and not elsewhere,
                        f"{label}: {len(ok_runs) - len(elsewhere)} of {len(ok_runs)} finished run(s) trained on "
                        f"{expect.device}" + (f"; not: {', '.join(elsewhere)}" if elsewhere else "")))
    if expect.device == "cuda":
        no_vram = [r.commit[:7] for r in ok_runs if not _positive(r.metrics.get("peak_vram_mb"))]
        checks.append(Check(bool(ok_runs) and not no_vram, f"{label}: peak_vram_mb above 0 in every finished run"
                            + (f"; not in {', '.join(no_vram)}" if no_vram else "")))
    missing = sorted({key for r in ok_runs for key in SUMMARY_KEYS if key not in r.metrics})
    checks.append(Check(bool(ok_runs) and not missing, f"{label}: every finished run printed the whole summary block"
                        + (f"; missing {', '.join(missing)}" if missing else "")))
    duty = found.duty
    checks.append(Check(duty is not None and duty >= expect.min_duty,
                        f"{label}: duty {'unknown' if duty is None else f'{100 * duty:.1f}%'} "
                        f"(at least {100 * expect.min_duty:.0f}% of the campaign's wall time in runs)"))
    return checks


def _ending(label: str, campaign: Campaign, expect: Expectation) -> Check:
    if campaign.exit_code is None:
        return Check(False, f"{label}: `up` was still running at its deadline of {expect.timeout_s:.0f} s and was stopped")
    return Check(campaign.exit_code == 0, f"{label}: `up` ended by itself with exit code {campaign.exit_code}")


def _positive(value: object) -> bool:
    return isinstance(value, float) and value > 0
