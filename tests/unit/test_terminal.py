"""The command line's error line shows any message as text: markup and terminal sequences in it do nothing."""

from __future__ import annotations

import pytest
import typer

from autoresearch.terminal import fail


def test_an_error_message_with_markup_and_escapes_is_printed_as_text(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(typer.Exit):
        fail("ledger said: [/] closing tag \x1b[2J and [bold]bold[/bold]")
    printed = capsys.readouterr().err
    assert "[/] closing tag" in printed and "[bold]bold[/bold]" in printed and "\x1b[2J" not in printed
