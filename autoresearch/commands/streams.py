"""`autoresearch streams`: create or update the event streams and the object store, with an admin credential."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from autoresearch.terminal import CONFIG_EXIT, console, reported


def streams(
    nats_url: Annotated[str, typer.Option(envvar="NATS_URL", help="NATS server URL.")] = "nats://127.0.0.1:4222",
    nats_creds: Annotated[str | None, typer.Option(envvar="NATS_CREDS", help="An admin credentials file.")] = None,
    wait: Annotated[float, typer.Option(min=0, help="Seconds to wait for the server to come up.")] = 60.0,
) -> None:
    """Set up the bus on a server of your own (`up` does it for its own): the streams and the object store."""
    from shared.bus import OBJECT_BUCKET, STREAMS, BusSetupError, connect
    from shared.credentials import TlsFiles

    async def main() -> None:
        bus = await connect(nats_url, "autoresearch-streams", nats_creds, wait, tls=TlsFiles.from_environment(), manage=True)
        await bus.close()

    with reported(BusSetupError, ConnectionError, code=CONFIG_EXIT):
        asyncio.run(main())
    console.print(f"streams {', '.join(STREAMS)} and object store {OBJECT_BUCKET} ready on {nats_url}", highlight=False)
