"""A module's top-level constants, worked out from its syntax alone: nothing is imported, none of its code runs.

A Karpathy-style prepare.py says where its data lives in constants made of os.path and pathlib calls,
f-strings and earlier constants (`DATA_DIR = os.path.join(CACHE_DIR, "data")`). Exactly those forms are
evaluated here; a constant made any other way is left out. Importing the file instead would import what it
imports (torch, tokenizers) on every `up`, and run a workspace's code outside any run's containment.
"""

from __future__ import annotations

import ast
import operator
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path, PurePath
from typing import Any

TEXT_MAX = 4096  # longer strings are no path: a constant like "x" * 10**9 is left out, not built
_OPERATORS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_PATH_METHODS = {"resolve", "absolute", "joinpath", "with_name", "with_suffix"}
_PATH_ATTRIBUTES = {"parent", "name", "stem", "suffix"}
_TEXT_METHODS = {"strip", "lstrip", "rstrip", "lower", "upper"}
INT_MAX = 2**63  # past this a constant is no size or index: refused before a chain of products grows it without end
_WIDE = re.compile(r"\d{5,}")  # a format width or precision that would build a string past TEXT_MAX


class Unknown(Exception):
    """The expression is not one of the forms worked out here."""


def module_constants(source: str, file: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    """NAME -> value for each top-level assignment that can be worked out, as the module would compute it."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    evaluator = _Evaluator(file, environ)
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and all(isinstance(t, ast.Name) for t in statement.targets):
            targets, value = [t.id for t in statement.targets], statement.value
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) and statement.value:
            targets, value = [statement.target.id], statement.value
        else:
            continue
        try:
            result = evaluator.value(value)
        except (Unknown, ArithmeticError, TypeError, ValueError, KeyError, IndexError, OSError, RecursionError):
            result = Unknown  # a name reassigned in a way not worked out is no longer known
        for name in targets:
            if result is Unknown:
                evaluator.names.pop(name, None)
            else:
                evaluator.names[name] = result
    return {name: value for name, value in evaluator.names.items() if name != "__file__"}


class _Evaluator:
    def __init__(self, file: Path, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.names: dict[str, Any] = {"__file__": str(file)}
        self.functions: dict[str, Callable[..., Any]] = {
            "os.path.join": os.path.join, "os.path.dirname": os.path.dirname, "os.path.basename": os.path.basename,
            "os.path.abspath": os.path.abspath, "os.path.realpath": os.path.realpath,
            "os.path.normpath": os.path.normpath, "os.path.expanduser": self.expanduser,
            "os.getenv": self.getenv, "os.environ.get": self.getenv, "str": str, "int": int,
            "Path": Path, "pathlib.Path": Path, "Path.home": self.home, "pathlib.Path.home": self.home,
        }

    def home(self) -> Path:
        return Path(self.environ.get("HOME") or os.path.expanduser("~"))

    def expanduser(self, path: str | PurePath) -> str | Path:
        text = os.fspath(path)
        if text == "~" or text.startswith("~/"):
            text = str(self.home()) + text[1:]
        return Path(text) if isinstance(path, PurePath) else text

    def getenv(self, name: str, default: Any = None) -> Any:
        return self.environ.get(name, default)

    def value(self, node: ast.expr) -> Any:
        """The value of one expression, or Unknown."""
        result = self._value(node)
        if isinstance(result, str | bytes | list | tuple) and len(result) > TEXT_MAX \
                or isinstance(result, int) and abs(result) > INT_MAX:
            raise Unknown
        if not isinstance(result, str | bytes | int | float | bool | PurePath | tuple | list | type(None)):
            raise Unknown
        return result

    def _value(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in self.names:
                raise Unknown
            return self.names[node.id]
        if isinstance(node, ast.JoinedStr):
            return "".join(self._formatted(part) for part in node.values)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            left, right = self.value(node.left), self.value(node.right)
            sequences = [v for v in (left, right) if isinstance(v, str | bytes | list | tuple)]
            if sequences and (isinstance(node.op, ast.Mod) or isinstance(node.op, ast.Mult)
                              and any(isinstance(v, int) and v > TEXT_MAX for v in (left, right))):
                raise Unknown  # "%9999999d" % 1 and "x" * 10**9 would build the string before any bound is checked
            return _OPERATORS[type(node.op)](left, right)
        if isinstance(node, ast.Tuple | ast.List):
            return [self.value(item) for item in node.elts]
        if isinstance(node, ast.Attribute):
            owner = self.value(node.value)
            if isinstance(owner, PurePath) and node.attr in _PATH_ATTRIBUTES:
                return getattr(owner, node.attr)
            raise Unknown
        if isinstance(node, ast.Subscript) and _dotted(node.value) == "os.environ":
            return self.environ[self.value(node.slice)]
        if isinstance(node, ast.Call):
            return self._call(node)
        raise Unknown

    def _formatted(self, part: ast.expr) -> str:
        if isinstance(part, ast.Constant):
            return str(part.value)
        if not isinstance(part, ast.FormattedValue):
            raise Unknown
        value = self.value(part.value)
        value = {-1: value, 115: str(value), 114: repr(value), 97: ascii(value)}[part.conversion]
        spec = self.value(part.format_spec) if part.format_spec is not None else ""
        if _WIDE.search(spec):
            raise Unknown
        return format(value, spec)

    def _call(self, node: ast.Call) -> Any:
        if any(isinstance(arg, ast.Starred) for arg in node.args) or any(k.arg is None for k in node.keywords):
            raise Unknown
        args = [self.value(arg) for arg in node.args]
        kwargs = {k.arg: self.value(k.value) for k in node.keywords}
        function = self.functions.get(_dotted(node.func) or "")
        if function is not None:
            return function(*args, **kwargs)
        if isinstance(node.func, ast.Attribute):
            owner, method = self.value(node.func.value), node.func.attr
            if isinstance(owner, PurePath) and method == "expanduser":
                return self.expanduser(owner)
            allowed = _PATH_METHODS if isinstance(owner, PurePath) else _TEXT_METHODS if isinstance(owner, str) else set()
            if method in allowed:
                return getattr(owner, method)(*args, **kwargs)
        raise Unknown


def _dotted(node: ast.expr) -> str | None:
    """`os.path.join` for the attribute chain os.path.join; None for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])
