"""A service process imports its own service and shared/, never the command line's typer, rich or other commands."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest

from autoresearch.commands.service import service as service_command
from autoresearch.serve import FLAGS, field_of, parser

# Run exactly as `up` starts a service, then list what the process had imported when its settings were refused.
PROBE = """
import json, runpy, sys
sys.argv = ["autoresearch", "service", *sys.argv[1:]]
try:
    runpy.run_module("autoresearch", run_name="__main__")
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(name for name, module in sys.modules.items() if module is not None)}))
"""
NEVER = ("typer", "rich", "autoresearch.cli", "autoresearch.commands", "autoresearch.up", "autoresearch.terminal")
LEDGER_ONLY = ("fastapi", "uvicorn", "starlette")


def imported_by(name: str, *flags: str) -> tuple[int, list[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, name, "--tag", "bad tag!", *flags],
                          capture_output=True, text=True, timeout=60)
    answer = json.loads(done.stdout.splitlines()[-1])
    assert "tag" in done.stderr  # refused for its settings, after everything it runs with was imported
    return answer["code"], answer["modules"]


def within(modules: list[str], packages: tuple[str, ...]) -> list[str]:
    return [name for name in modules if name.split(".")[0] in packages or name.startswith(packages)]


@pytest.mark.parametrize("name", ["trainer", "editor", "evaluator", "proposer", "ledger"])
def test_a_service_process_imports_neither_typer_nor_rich_nor_other_services(name: str) -> None:
    code, modules = imported_by(name, *(["--workspace", "/nonexistent"] if name == "trainer" else []))
    assert code == 2
    assert f"services.{name}.main" in modules and "shared.runtime" in modules
    assert within(modules, NEVER) == []
    others = tuple(f"services.{other}" for other in ("trainer", "editor", "evaluator", "proposer", "ledger") if other != name)
    assert within(modules, others) == []
    if name != "ledger":
        assert within(modules, LEDGER_ONLY) == []
    if name != "proposer":
        assert within(modules, ("httpx",)) == []


def test_the_command_line_and_the_service_entry_take_the_same_flags() -> None:
    """`autoresearch service` (typer) and `python -m autoresearch service` (what `up` runs) must not drift apart."""
    typer_flags = {param.replace("_", "-") for param in inspect.signature(service_command).parameters}
    assert typer_flags - {"name", "log-level"} == set(FLAGS)


def test_the_service_entry_maps_flags_to_settings_fields() -> None:
    parsed = vars(parser().parse_args(["trainer", "--results", "r.tsv", "--pass-env", "A", "--pass-env", "B",
                                       "--no-network", "--run-timeout", "5"]))
    assert (parsed["results_path"], parsed["pass_env"], parsed["no_network"], parsed["run_timeout"]) == (
        "r.tsv", ["A", "B"], True, "5")
    assert parsed["lookahead"] is None and field_of("http-port") == "http_port"


def test_leaving_keeps_the_exit_code_and_runs_the_exit_handlers(tmp_path) -> None:
    done = subprocess.run([sys.executable, "-c", (
        "import atexit, pathlib, sys\nfrom autoresearch.serve import leave\n"
        f"atexit.register(pathlib.Path({str(tmp_path / 'handled')!r}).touch)\n"
        "print('logged', file=sys.stderr, end='')\nleave(3)\n")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert (tmp_path / "handled").exists() and done.stderr == "logged"
