"""The one error a workspace operation raises for a problem the user can fix."""


class WorkspaceError(Exception):
    """A workspace cannot be created or used; the message names the path and the fix."""
