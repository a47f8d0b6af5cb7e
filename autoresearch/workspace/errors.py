"""The one error creating a workspace raises for a problem the user can fix."""


class InitError(Exception):
    """A workspace cannot be created; the message names the path and the fix."""
