"""Checks before the first run: can the train command start, are its dependencies and data there, a GPU, NATS, disk.

`autoresearch doctor` runs them (so do `init --from` and `up`); diagnose.py lists them. Each check is a plain
function from a Setup to Findings, so the modules here import nothing heavy until a check needs it.
"""
