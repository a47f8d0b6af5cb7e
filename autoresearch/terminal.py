"""Where the command line writes: the consoles, and one red `error:` line before a non-zero exit."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from shared.text import printable

CONFIG_EXIT = 2  # a refused configuration: `up` does not restart a service that exits with it

console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = CONFIG_EXIT) -> NoReturn:
    """Print `error: message` in red on stderr and exit with code."""
    err.print(f"[red]error:[/] {escape(printable(message, keep_newlines=True))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def reported(*errors: type[Exception], code: int) -> Iterator[None]:
    """Turn any of the given errors into the red `error:` line and the exit code."""
    try:
        yield
    except errors as exc:
        fail(str(exc), code)
