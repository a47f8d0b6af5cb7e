"""The bundled tiny-GPT workspace: create one with init_workspace, check a foreign one with adopt_workspace."""

from autoresearch.workspace.errors import InitError
from autoresearch.workspace.init import adopt_workspace, init_workspace

__all__ = ["InitError", "adopt_workspace", "init_workspace"]
