"""`autoresearch watch`: every event of a campaign, one line each, live from NATS."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from autoresearch.terminal import console, reported


def watch(
    nats_url: Annotated[str, typer.Option(envvar="NATS_URL", help="NATS server URL.")] = "nats://127.0.0.1:4222",
    campaign: Annotated[str | None, typer.Option("--campaign", help="Only this campaign (default: all).")] = None,
    progress: Annotated[bool, typer.Option(help="Show training step lines.")] = True,
    nats_creds: Annotated[str | None, typer.Option(envvar="NATS_CREDS", help=(
        "NATS credentials file; for `up`'s server, the one `autoresearch creds monitor` names."))] = None,
) -> None:
    """Print events live from NATS, one line each, until Ctrl-C."""
    from autoresearch.tail import EventTail, TailError
    from autoresearch.views import EventLines
    from shared.credentials import CredentialsError, TlsFiles, connect_options

    with reported(CredentialsError, code=1):
        access = connect_options(nats_creds, TlsFiles.from_environment())

    async def main() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        lines = EventLines(console, progress="all" if progress else "none", timestamps=True)
        tail = EventTail(nats_url, campaign, lines.show, lines.notice, access=access)
        try:
            await tail.start()
        except TailError as exc:
            if "authorization" in str(exc).lower():  # `up`'s own server admits its watchers' credential only
                raise TailError(f"{exc}; pass --nats-creds (`autoresearch creds monitor` names it)") from None
            raise TailError(f"{exc}; set --nats-url or NATS_URL") from None
        console.print(f"[dim]watching {campaign or 'all campaigns'} on {nats_url} (Ctrl-C to stop)[/]", highlight=False)
        try:
            await stop.wait()
        finally:
            await tail.close()

    with reported(TailError, code=1):
        asyncio.run(main())
