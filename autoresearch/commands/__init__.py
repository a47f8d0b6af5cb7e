"""The command line's commands, one per module; cli.py assembles them into the app."""
