"""`autoresearch creds`: the bus credentials, one per role, and the nats-server configuration that knows them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from autoresearch.terminal import console, reported

creds = typer.Typer(
    help="Bus credentials: an nkey seed per role (admin, services, monitor) and the server configuration.",
    no_args_is_help=True,
)

StateDir = Annotated[Path, typer.Option(help="The state folder; its credentials are in <state-dir>/creds.")]
Folder = Annotated[Path | None, typer.Option("--dir", help="The credentials folder itself (overrides --state-dir).")]


def _folder(state_dir: Path, folder: Path | None) -> Path:
    return (folder or state_dir / "creds").expanduser()


@creds.command()
def init(state_dir: StateDir = Path(".autoresearch"), folder: Folder = None) -> None:
    """Make a credential for every role that has none (existing ones are kept) and write nats.conf beside them."""
    from shared.auth import BusCredentials, CredentialFolderError

    with reported(CredentialFolderError, OSError, code=1):
        made = BusCredentials.prepare(_folder(state_dir, folder))
    for role, path in made.files.items():
        console.print(f"{role:<10} {path}", highlight=False)
    console.print(f"server configuration (public keys only): {made.config}", highlight=False)


@creds.command()
def monitor(
    state_dir: StateDir = Path(".autoresearch"), folder: Folder = None,
    nats_url: Annotated[str, typer.Option(envvar="NATS_URL", help="The server, for the examples.")] = "nats://127.0.0.1:4222",
) -> None:
    """Print the read-only credential for watchers, and how to watch with it."""
    from shared.auth import CredentialFolderError, credential_files
    from shared.permissions import MONITOR

    with reported(CredentialFolderError, code=1):
        path = credential_files(_folder(state_dir, folder))[MONITOR].resolve()
    console.print(str(path), highlight=False, soft_wrap=True)
    console.print(f"  nats --server {nats_url} --nkey {path} sub 'run.*'", highlight=False, soft_wrap=True)
    console.print(f"  autoresearch watch --nats-url {nats_url} --nats-creds {path}", highlight=False, soft_wrap=True)


@creds.command()
def config(state_dir: StateDir = Path(".autoresearch"), folder: Folder = None) -> None:
    """Print the nats-server `authorization` block for these credentials, for a server or cluster of your own."""
    from shared.auth import CredentialFolderError, server_config

    with reported(CredentialFolderError, code=1):
        text = server_config(_folder(state_dir, folder))
    typer.echo(text, nl=False)
