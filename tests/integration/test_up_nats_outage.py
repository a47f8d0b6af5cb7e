"""`up` with NATS gone: no nats-py traceback on its console, no crash."""

from __future__ import annotations

import logging

import pytest

from autoresearch.up import wait_until_drained
from shared.embedded import free_port


async def test_waiting_for_the_drain_with_nats_gone_gives_up_quietly(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    drained = await wait_until_drained(f"nats://127.0.0.1:{free_port()}", {"editor-nov27"}, timeout=2.0)

    assert drained is False
    assert not [record for record in caplog.records if record.exc_info], caplog.text

