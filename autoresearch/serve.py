"""`autoresearch service NAME` for a service process: its flags parsed without the rest of the command line.

A service process imports this module, shared/ and its own service package, never typer, rich or the other
commands: `up` starts five of them at once, and each import is start-up time on a busy machine.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from autoresearch.services import SERVICES

Serve = Callable[..., object]  # a service's serve, its settings bound
SETUP_EXIT = 2  # a refused configuration: `up` does not restart a service that exits with it (shared/runtime.py)
# flag -> what it sets; each is refused by a service whose settings have no such field
FLAGS: dict[str, str] = {
    "nats-url": "NATS server URL (default: NATS_URL).",
    "nats-creds": "NATS credentials file (default: NATS_CREDS).",
    "state-dir": "Folder for this service's own files.",
    "instance": "Instance name (default host-pid).",
    "workspace": "trainer: the workspace repository.",
    "tag": ("The campaign served: its own consumers, other campaigns' events skipped. Required by the trainer; "
            "unset elsewhere means every campaign."),
    "train-command": "trainer: the train command.",
    "run-timeout": "trainer: run wall-clock limit in seconds.",
    "gpu": "trainer: CUDA_VISIBLE_DEVICES for runs.",
    "pass-env": "trainer: give runs this environment variable as it is, even a secret (repeatable).",
    "lookahead": "trainer: proposals prepared ahead.",
    "max-experiments": "trainer: experiments beyond the baseline.",
    "session": "trainer: the sitting --max-experiments counts from.",
    "run-as": "trainer: run the train command as this user (needs root).",
    "no-network": "trainer: runs get no network.",
    "keep-rule": "evaluator: sprt (judged under measured noise), bayes (the campaign's record as a prior) or greedy.",
    "baseline-runs": "evaluator: runs of the unchanged baseline (default 3).",
    "max-runs": "evaluator: runs of a change, and of the kept state, before deciding.",
    "noise-floor": "evaluator: the least noise σ the keep rule assumes.",
    "vram-budget-gb": "evaluator: discard runs whose peak memory is above this.",
    "results": "trainer: results.tsv to keep, one row per decided experiment; ledger: results.tsv path for --tag.",
    "http-host": "ledger: API host.",
    "http-port": "ledger: API port (0 = off).",
    "proposer": "proposer: search or llm.",
    "llm-provider": "proposer: openai or anthropic.",
    "llm-base-url": "proposer: the LLM endpoint, e.g. http://localhost:8000/v1.",
    "llm-model": "proposer: the model; each proposer may use its own.",
}
REPEATABLE = {"pass-env"}
SWITCHES = {"no-network"}
FIELD_OF = {"results": "results_path"}  # a flag whose settings field has another name


def field_of(flag: str) -> str:
    """The settings field a flag sets."""
    return FIELD_OF.get(flag, flag.replace("-", "_"))


def flag_of(field: str) -> str:
    """The flag that sets a settings field."""
    return next((flag for flag, named in FIELD_OF.items() if named == field), field.replace("_", "-"))


def fail(message: str) -> NoReturn:
    """Print `error: message` on stderr and exit as a refused configuration."""
    from shared.text import printable

    red, plain = ("\x1b[31m", "\x1b[0m") if sys.stderr.isatty() else ("", "")
    print(f"{red}error:{plain} {printable(message, keep_newlines=True)}", file=sys.stderr)
    raise SystemExit(SETUP_EXIT)


def parser() -> argparse.ArgumentParser:
    """The service command line: a name and the flags of every service (each checked against the named one)."""
    parse = argparse.ArgumentParser(
        prog="autoresearch service", description="Run one service in this process.", allow_abbrev=False)
    parse.add_argument("name", help=f"One of: {', '.join(SERVICES)}.")
    for flag, text in FLAGS.items():
        if flag in SWITCHES:
            parse.add_argument(f"--{flag}", dest=field_of(flag), action="store_const", const=True, help=text)
        else:
            action = "append" if flag in REPEATABLE else "store"
            parse.add_argument(f"--{flag}", dest=field_of(flag), action=action, metavar="VALUE", help=text)
    parse.add_argument("--log-level", default=os.environ.get("AUTORESEARCH_LOG_LEVEL", "INFO"),
                       help="Log level (default: AUTORESEARCH_LOG_LEVEL or INFO).")
    return parse


def configured(name: str, given: dict[str, object]) -> tuple[object, Serve]:
    """The named service's settings from the given values (None: unset) and its serve; a refusal exits with 2."""
    if name not in SERVICES:
        fail(f"unknown service {name!r}; choose one of {', '.join(SERVICES)}")
    settings_cls, serve = SERVICES[name]()
    foreign = [key for key, value in given.items() if value is not None and key not in settings_cls.model_fields]
    if foreign:
        fail(f"{', '.join('--' + flag_of(key) for key in foreign)} does not apply to the {name} service")
    from shared.settings import SettingsError, load_settings

    try:
        settings = load_settings(settings_cls, **given)
    except SettingsError as exc:
        fail(str(exc))
    return settings, functools.partial(serve, settings=settings)


def serving(name: str, settings: object, serve: Serve, log_level: str) -> None:
    """Run a configured service until it is stopped; what its workspace or settings refuse on the way exits with 2."""
    from shared.runtime import run_service
    from shared.settings import SettingsError

    try:
        run_service(name, settings, serve, log_level)
    except SettingsError as exc:  # the trainer's workspace among them: restarting would meet the same refusal
        fail(str(exc))


def run(name: str, given: dict[str, object], log_level: str = "INFO") -> None:
    """Run the named service with the given settings (None: unset) until it is stopped."""
    serving(name, *configured(name, given), log_level)


def leave(code: object) -> NoReturn:
    """End the process with code at once, once its service has stopped in order (connection drained, files closed).

    Exit handlers still run; the interpreter's teardown, which frees every module and object one by one, is
    skipped: it takes a tenth of a second per process, and `up` waits for five of them at every stop.
    """
    if isinstance(code, str):
        print(code, file=sys.stderr)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `python -m autoresearch service NAME ...`."""
    # structlog renders tracebacks with rich whenever it can import it; a service logs JSON lines to a file
    # and does without, so its process never pays for importing rich.
    sys.modules.setdefault("rich", None)  # type: ignore[arg-type]
    import shared.runtime  # noqa: F401 (first, so that what a service runs with is loaded before any refusal)

    options = vars(parser().parse_args(argv))
    name, log_level = options.pop("name"), options.pop("log_level")
    settings, serve = configured(name, options)
    try:
        serving(name, settings, serve, log_level)
    except SystemExit as exc:  # the service's own exit code (a bus it cannot use, a read API that stopped)
        leave(exc.code)
    leave(0)
