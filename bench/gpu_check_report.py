"""What one campaign of the GPU check shows: its runs and verdicts, its duty, and PASS/FAIL lines with their reasons."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gpu_check_campaign import Campaign

from shared.events import CampaignFinished, CampaignStarted, RunFinished, VerdictDecided

SUMMARY_KEYS = ("val_bpb", "training_seconds", "total_seconds", "peak_vram_mb", "mfu_percent", "total_tokens_M",
                "num_steps", "num_params_M", "depth")
_DEVICE = re.compile(r"^device: (\w+).*$", re.MULTILINE)


@dataclass(frozen=True)
class Check:
    """One judged line: passed or not, and why."""

    passed: bool
    text: str

    def line(self) -> str:
        """The line as printed: PASS or FAIL, then the reason."""
        return f"{'PASS' if self.passed else 'FAIL'} {self.text}"


@dataclass
class Figures:
    """What a campaign's record says about its runs and its time."""

    runs: list[RunFinished] = field(default_factory=list)
    verdicts: list[VerdictDecided] = field(default_factory=list)
    span_s: float | None = None  # campaign.started to campaign.finished (or the last run's end)
    in_runs_s: float = 0.0

    @property
    def duty(self) -> float | None:
        """The share of the campaign's wall time the trainer spent in runs."""
        return self.in_runs_s / self.span_s if self.span_s else None


def figures(campaign: Campaign) -> Figures:
    """Fold a campaign's record into its figures."""
    found = Figures()
    found.runs = sorted((e for e in campaign.events if isinstance(e, RunFinished)), key=lambda run: run.started_at)
    found.verdicts = [e for e in campaign.events if isinstance(e, VerdictDecided)]
    found.in_runs_s = sum((run.finished_at - run.started_at).total_seconds() for run in found.runs)
    starts = [e.occurred_at for e in campaign.events if isinstance(e, CampaignStarted)]
    ends = [e.occurred_at for e in campaign.events if isinstance(e, CampaignFinished)]
    begin = starts[0] if starts else (found.runs[0].started_at if found.runs else None)
    end = ends[-1] if ends else (found.runs[-1].finished_at if found.runs else None)
    if begin is not None and end is not None and end > begin:
        found.span_s = (end - begin).total_seconds()
    return found


def run_device(run: RunFinished) -> str:
    """The device a run says it trained on (its `device: ...` line), or '?' when its log does not say."""
    match = _DEVICE.findall(run.log_tail)
    return match[-1] if match else "?"


def device_line(run: RunFinished) -> str:
    """The whole `device: ...` line of a run's log (the bundled train.py names the GPU and the precision there)."""
    match = _DEVICE.search(run.log_tail)
    return match.group(0)[:200] if match else "no device line in the run's log"


def crash_reason(run: RunFinished) -> str:
    """Why a run failed: the trainer's crash_reason, else the last line of its log."""
    reason = run.metrics.get("crash_reason")
    if isinstance(reason, str) and reason:
        return reason
    lines = [line.strip() for line in run.log_tail.splitlines() if line.strip()]
    return lines[-1] if lines else f"exit code {run.exit_code}"


def _kind(run: RunFinished) -> str:
    if run.baseline:
        return "baseline"
    return "kept state" if run.kept_state else ("confirm" if run.repeat else "experiment")


def describe(figures: Figures, wall_s: float) -> list[str]:
    """The runs, the verdicts and the campaign's time, one line each."""
    lines = []
    if figures.runs:
        env = figures.runs[0].environment
        lines.append(f"torch {env.get('torch', '?')} · gpu {env.get('gpu', '?')} · held by {env.get('isolation', '?')}")
        lines.append(f"first run's log: {device_line(figures.runs[0])}")
    lines.append(f"runs ({len(figures.runs)}):")
    for run in figures.runs:
        seconds = (run.finished_at - run.started_at).total_seconds()
        head = f"  {_kind(run):<10} {run.commit[:7]} {run.status:<7} {seconds:6.1f} s  device {run_device(run)}"
        if run.status == "ok":
            val, vram = run.metrics.get("val_bpb"), run.metrics.get("peak_vram_mb")
            lines.append(f"{head}  val_bpb {val:.6f}  peak_vram_mb {vram}" if isinstance(val, float) else f"{head}  no val_bpb")
        else:
            lines.append(f"{head}  reason: {crash_reason(run)[:160]}")
    lines.append(f"verdicts ({len(figures.verdicts)}):")
    for verdict in figures.verdicts:
        val = f"{verdict.val_bpb:.6f}" if verdict.val_bpb is not None else "-"
        sigma = f"  σ {verdict.sigma:.6f}" if verdict.sigma is not None else ""
        lines.append(f"  {verdict.status:<8} val_bpb {val}  runs {verdict.runs}{sigma}  "
                     f"{(verdict.description or '')[:50]} — {verdict.reason[:100]}")
    span = f"{figures.span_s:.1f} s" if figures.span_s is not None else "unknown"
    duty = f"{100 * figures.duty:.1f}%" if figures.duty is not None else "unknown"
    training = sum(float(r.metrics.get("training_seconds", 0.0)) for r in figures.runs
                   if isinstance(r.metrics.get("training_seconds"), float))
    lines.append(f"campaign wall time {span} (`up` ran {wall_s:.1f} s); in runs {figures.in_runs_s:.1f} s: "
                 f"duty {duty}; training proper {training:.1f} s")
    return lines
