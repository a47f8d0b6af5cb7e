"""Benchmark: a campaign under chaos (killed services, a killed NATS server, a killed `up`, a fuzz corpus on every subject).

Runs `autoresearch up --max-experiments N` on a fast synthetic workspace (each
run of train.py takes 0.3 to 1 s and notes its commit, pid, start and end in a
log outside the workspace) against a NATS server of its own, on a fixed port
and store so that it can be killed and started again, and meanwhile:

- kills (SIGKILL) service processes, each service in turn in a shuffled order,
  found by their command line (`python -m autoresearch service NAME ...
  --state-dir STATE`); `up` restarts them;
- kills the NATS server and starts it again --outage seconds later (`up` does
  not restart a server it did not start: the services must reconnect);
- kills `up` itself, then finishes the campaign with `up --resume`, asking for
  the experiments still missing (as it also does when `up` gives up);
- publishes a fuzz corpus at every subject with a plain NATS client: malformed
  JSON, wrong types, huge fields, unknown campaigns, dates of 1970 and 2999,
  ids of 1 MB. An event that is valid and names the campaign (a forged verdict)
  is not part of it: keeping those out is the job of the bus's authentication.

After each kill it waits for the loop to make progress again (the next
run.started or verdict.decided, seen by a plain NATS client subscribed to each
event subject; --watch-all subscribes to '>' instead, which matches the
services' pull inboxes too and slows their recovery: see chaos_watch.EventRecorder),
and takes the time as that kill's recovery: a wait that an earlier kill caused
is charged to the latest one (chaos.log, beside the services' logs, lists the
kills). Then it prints what the campaign left behind: kills per target, rows
of results.tsv against 1 + N, duplicated and lost experiments, executions of
train.py per commit, concurrent runs, the branch tip against the kept commits,
and recovery times per kind of kill.

    .venv/bin/python bench/chaos.py [--experiments 30] [--service-kills 30] [--nats-kills 3] [--up-kills 1]
                                    [--fuzz 2] [--seed 1] [--outage 2] [--watch-all] [--quick] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from chaos_measure import measure
from chaos_plan import QUICK, Plan
from chaos_report import Report
from chaos_round import Chaos


async def run_chaos(root: Path, plan: Plan) -> Report:
    """One chaos round in root; its figures."""
    chaos = Chaos(root, plan)
    started = time.monotonic()
    await chaos.run()
    return measure(chaos, time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int)
    parser.add_argument("--service-kills", type=int)
    parser.add_argument("--nats-kills", type=int)
    parser.add_argument("--up-kills", type=int)
    parser.add_argument("--fuzz", type=int, help="rounds of the fuzz corpus")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--outage", type=float, help="seconds the NATS server stays down")
    parser.add_argument("--timeout", type=float, help="seconds before the round is given up")
    parser.add_argument("--quick", action="store_true", help="a small round, under a minute")
    parser.add_argument("--watch-all", action="store_true", default=None,
                        help="watch with a subscription to '>', as `nats sub '>'` does (it changes what it watches)")
    parser.add_argument("--keep", type=Path, help="run in this new folder and keep it (workspace, logs, NATS store)")
    args = parser.parse_args()
    plan = QUICK if args.quick else Plan()
    for name in ("experiments", "service_kills", "nats_kills", "up_kills", "fuzz", "seed", "outage", "timeout", "watch_all"):
        if getattr(args, name) is not None:
            setattr(plan, name, getattr(args, name))
    if args.keep:
        report = asyncio.run(run_chaos(args.keep.resolve(), plan))
    else:
        with tempfile.TemporaryDirectory(prefix="autoresearch-chaos-") as tmp:
            report = asyncio.run(run_chaos(Path(tmp), plan))
    report.print()


if __name__ == "__main__":
    main()
