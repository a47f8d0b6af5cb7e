"""python -m autoresearch: the same as the autoresearch command."""

from autoresearch.cli import app

app()
