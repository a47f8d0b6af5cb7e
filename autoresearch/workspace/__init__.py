"""The bundled tiny-GPT workspace: create one with init_workspace, check a foreign one with adopt_workspace."""

from autoresearch.workspace.config import WorkspaceConfig, load_workspace_config
from autoresearch.workspace.errors import WorkspaceError
from autoresearch.workspace.init import adopt_workspace, init_workspace

__all__ = ["WorkspaceConfig", "WorkspaceError", "adopt_workspace", "init_workspace", "load_workspace_config"]
