"""`autoresearch service NAME`: wrong names, flags and settings are refused clearly, before connecting."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def service(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "NATS_URL": "nats://127.0.0.1:1", **env}
    return subprocess.run([sys.executable, "-m", "autoresearch", "service", *args], env=environment,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("args", "message"), [
    (["gpu-runner"], "unknown service 'gpu-runner'"),
    (["editor", "--workspace", "/tmp"], "--workspace does not apply to the editor service"),
    (["ledger", "--llm-model", "m"], "--llm-model does not apply to the ledger service"),
    (["trainer", "--tag", "nov27"], "workspace"),
    (["trainer", "--workspace", "/tmp", "--tag", "bad tag!"], "tag"),
    (["proposer", "--proposer", "llm"], "AUTORESEARCH_LLM_MODEL"),
])
def test_bad_service_invocations_exit_2_with_the_reason(args: list[str], message: str) -> None:
    done = service(*args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr


def test_unreachable_nats_is_reported_after_waiting_not_hung() -> None:
    done = subprocess.run([sys.executable, "-c", (
        "import asyncio\nfrom shared.bus import connect\n"
        "try:\n    asyncio.run(connect('nats://127.0.0.1:1', 't', wait=1))\n"
        "except ConnectionError as e:\n    print('refused:', e)\n")], capture_output=True, text=True, timeout=60)
    assert "refused: cannot reach NATS at nats://127.0.0.1:1" in done.stdout
