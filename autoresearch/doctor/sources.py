"""What a workspace's Python files ask for, read from their syntax: the modules they import, whether they need CUDA."""

from __future__ import annotations

import ast
from pathlib import Path

# Calls that test for an accelerator before using one: a file that makes them can fall back to the CPU.
_FALLBACK_CALLS = {"is_available", "device_count"}


class SourceError(Exception):
    """A file cannot be read or parsed; the message names it and where."""


def parse_file(path: Path) -> ast.Module:
    """The syntax tree of a Python file, or SourceError saying why there is none."""
    try:
        return ast.parse(path.read_bytes(), filename=path.name)
    except SyntaxError as error:
        where = f" (line {error.lineno})" if error.lineno else ""
        raise SourceError(f"{path.name} does not parse: {error.msg}{where}") from None
    except (OSError, ValueError) as error:
        raise SourceError(f"{path.name} cannot be read: {error}") from None


def top_level_imports(tree: ast.Module) -> list[str]:
    """The top-level packages a module imports unconditionally, in order, each once.

    Only statements of the module's body count: an import inside `try:` (usually guarded by `except
    ImportError`), a function or an `if` may never run, so its absence is no reason to refuse a workspace.
    """
    names: list[str] = []
    for statement in tree.body:
        if isinstance(statement, ast.Import):
            found = [alias.name for alias in statement.names]
        elif isinstance(statement, ast.ImportFrom) and statement.level == 0 and statement.module:
            found = [statement.module]
        else:
            continue
        for name in found:
            top = name.split(".")[0]
            if top != "__future__" and top not in names:
                names.append(top)
    return names


def needs_cuda(tree: ast.Module) -> bool:
    """True when the code uses CUDA (a "cuda" device, torch.cuda, .cuda()) and never asks whether it is there."""
    uses, falls_back = False, False
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            uses = uses or node.value == "cuda" or node.value.startswith("cuda:")
        elif isinstance(node, ast.Attribute):
            uses = uses or node.attr == "cuda"
            falls_back = falls_back or node.attr in _FALLBACK_CALLS
    return uses and not falls_back
