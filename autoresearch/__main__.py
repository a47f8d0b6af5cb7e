"""python -m autoresearch: the same as the autoresearch command; `service` starts without loading the others."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the command line; a service process skips it and parses its own flags (autoresearch/serve.py)."""
    if sys.argv[1:2] == ["service"] and not {"-h", "--help"} & set(sys.argv[2:]):  # the full help is the CLI's
        from autoresearch.serve import main as serve

        serve(sys.argv[2:])
    else:
        from autoresearch.cli import app

        app()


if __name__ == "__main__":
    main()
