"""Benchmark: keep/discard verdicts under noise, on a landscape whose true values are known.

Runs the real loop (`autoresearch up`: a nats-server of its own, the five
services as processes, the built-in search proposer) on a synthetic workspace
(bench/noise_workspace.py): train.py's five constants score on a smooth
landscape whose optimum is exactly 0.90, and each run reports one draw of the
true value plus Gaussian noise of σ, and the true value beside it. For each σ
and each keep rule it runs several campaigns with the same budget of training
runs: a campaign stops once its N-th run has its answer (a verdict or a request
for a confirmation run). Equal runs, not equal experiments, because runs are
what a campaign pays for; a rule that spends runs on confirmation gets fewer
experiments. Greedy is the old rule whole: one run of every commit, the
baseline's included. Campaign k has the same tag under every σ and rule, so
the search proposer, seeded by tag and experiment, proposes alike as long as
the verdicts agree: the rules are compared on the same proposals.

Then it reads each campaign's record from the stream and prints, per σ and
rule: keeps; false keeps (a keep whose true value is not below the true value
of the state it replaced); the share of real gains kept by size in σ (among
changes whose true gain over the kept state falls in the band); the true value
of the branch tip at the end; the reported best minus that true value; and the
runs beyond one per experiment. Then the targets: false keeps at most 2% of
keeps, real gains above 3σ kept at least 95% of the time, a final true value no
worse than greedy's at equal budget, and without noise no more extra runs than
the baseline's repeats.

    .venv/bin/python bench/noise.py [--sigmas 0 0.005 0.02] [--rules sprt bayes greedy] [--campaigns 3] [--runs 40]
                                    [--baseline-runs 3] [--max-runs N] [--floor-at-sigma] [--parallel 2] [--quick]
                                    [--json PATH] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

from noise_campaign import CampaignPlan, CampaignRecord, run_campaign
from noise_figures import CampaignFigures, RowFigures, campaign_figures
from noise_report import number, print_table, print_targets, report_json, targets
from noise_workspace import START, landscape

RULES = ("sprt", "bayes", "greedy")


def available_rules() -> tuple[str, ...]:
    """The keep rules the evaluator's settings accept: greedy alone until they name a keep_rule."""
    from typing import get_args

    from autoresearch.services import SERVICES
    settings, _ = SERVICES["evaluator"]()
    field = settings.model_fields.get("keep_rule")
    return tuple(rule for rule in RULES if rule in get_args(field.annotation)) if field else ("greedy",)


def plans(args: argparse.Namespace) -> list[CampaignPlan]:
    """Every campaign to run, the rules interleaved so that campaigns run side by side share the machine alike."""
    return [CampaignPlan(sigma, rule, index, args.runs, args.baseline_runs, args.max_runs,
                         sigma if args.floor_at_sigma else None, args.timeout)
            for sigma in args.sigmas for index in range(1, args.campaigns + 1) for rule in args.rules]


async def run_all(all_plans: list[CampaignPlan], root: Path, parallel: int) -> list[CampaignRecord]:
    """Run the campaigns, `parallel` at a time, each in its own folder; print a line as each one ends."""
    slots = asyncio.Semaphore(parallel)

    async def one(plan: CampaignPlan) -> CampaignRecord:
        async with slots:
            record = await run_campaign(plan, root / plan.name)
        figures = campaign_figures(record.events, plan.sigma, plan.rule)
        print(f"  {plan.name}: {figures.runs} runs, {figures.keeps} keeps ({figures.false_keeps} false), final true "
              f"{number(figures.final_true)}, {record.wall:.0f} s; {record.ended}", flush=True)
        return record

    return list(await asyncio.gather(*(one(plan) for plan in all_plans)))


def rows_of(records: list[CampaignRecord], args: argparse.Namespace) -> list[RowFigures]:
    """The campaigns' figures, one row per noise level and rule."""
    rows = []
    for sigma in args.sigmas:
        for rule in args.rules:
            campaigns: list[CampaignFigures] = []
            for record in records:
                if record.plan.sigma == sigma and record.plan.rule == rule:
                    figures = campaign_figures(record.events, sigma, rule)
                    figures.ended, figures.wall = record.ended, record.wall
                    campaigns.append(figures)
            rows.append(RowFigures(sigma, rule, campaigns))
    return rows


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0.0, 0.005, 0.02], help="noise levels")
    parser.add_argument("--rules", nargs="+", choices=RULES, default=list(RULES))
    parser.add_argument("--campaigns", type=int, default=3, help="campaigns per noise level and rule")
    parser.add_argument("--runs", type=int, default=40, help="training runs per campaign, the baseline's included")
    parser.add_argument("--baseline-runs", type=int, default=3, help="runs of the baseline under sprt")
    parser.add_argument("--max-runs", type=int, help="sprt: runs of a change before deciding (default: the evaluator's)")
    parser.add_argument("--floor-at-sigma", action="store_true",
                        help="sprt: set the noise floor to each campaign's true σ, as if the noise were known")
    parser.add_argument("--parallel", type=int, default=2, help="campaigns at the same time")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds before a campaign is given up")
    parser.add_argument("--quick", action="store_true", help="one campaign of 20 runs per noise level and rule")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    parser.add_argument("--keep", type=Path, help="run in this new folder and keep it (workspaces, logs, NATS stores)")
    args = parser.parse_args(argv)
    if args.quick:
        args.campaigns, args.runs = 1, 20
    offered = available_rules()
    missing = [rule for rule in args.rules if rule not in offered]
    if missing:
        print(f"the evaluator has no keep_rule setting yet: skipping {', '.join(missing)}", file=sys.stderr)
        args.rules = [rule for rule in args.rules if rule in offered]
    return args


def main() -> None:
    args = parse()
    all_plans = plans(args)
    land = landscape()
    print(f"{len(all_plans)} campaigns of {args.runs} runs: σ {', '.join(f'{s:g}' for s in args.sigmas)}; "
          f"rules {', '.join(args.rules)}; true val_bpb {land['true_bpb'](START):.4f} at the start, "
          f"{land['BEST_BPB']:.2f} at {land['OPTIMUM']}", flush=True)
    if args.keep:
        args.keep.mkdir(parents=True)
        records = asyncio.run(run_all(all_plans, args.keep.resolve(), args.parallel))
    else:
        with tempfile.TemporaryDirectory(prefix="autoresearch-noise-") as tmp:
            records = asyncio.run(run_all(all_plans, Path(tmp), args.parallel))
    rows = rows_of(records, args)
    found = targets(rows, args.baseline_runs)
    print_table(rows, args.runs)
    print_targets(found)
    if args.json:
        settings = {name: (str(value) if isinstance(value, Path) else value) for name, value in vars(args).items()}
        args.json.write_text(json.dumps(report_json(rows, found, settings), indent=2))


if __name__ == "__main__":
    main()
