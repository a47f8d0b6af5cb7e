"""Module-level UPPER_CASE numeric constants of train.py: reading them and rewriting one."""

from __future__ import annotations

import ast
import operator
import re
from dataclasses import dataclass

_UPPER = re.compile(r"^[A-Z][A-Z0-9_]*$")
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.Pow: operator.pow, ast.FloorDiv: operator.floordiv}


@dataclass(frozen=True)
class Constant:
    """A tunable number in train.py and the exact line that defines it."""

    name: str
    value: int | float
    line: str
    start: int  # column where the value expression begins
    end: int    # column where it ends


def _number(node: ast.expr) -> int | float | None:
    """Evaluate a literal arithmetic expression such as 0.04, -1, 2**19; None for anything else."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _number(node.left), _number(node.right)
        if left is None or right is None or (isinstance(node.op, ast.Pow) and abs(right) > 64):
            return None
        try:
            return _OPS[type(node.op)](left, right)
        except ZeroDivisionError:
            return None
    return None


def read_constants(source: str) -> list[Constant]:
    """Every single-line `NAME = <number>` at module level, in file order."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    lines = source.splitlines()
    found = []
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        name, value = node.targets[0].id, _number(node.value)
        if value is None or not _UPPER.match(name) or node.lineno != node.end_lineno:
            continue
        found.append(Constant(name, value, lines[node.lineno - 1], node.value.col_offset, node.value.end_col_offset))
    return found


def literal(value: int | float) -> str:
    """Python source for a number, short and still of the same type."""
    if isinstance(value, int):
        return str(value)
    text = f"{value:.4g}"
    return text if any(c in text for c in ".e") or "inf" in text else text + ".0"


def rewrite(constant: Constant, value: int | float) -> str:
    """The constant's line with only its value replaced."""
    return constant.line[: constant.start] + literal(value) + constant.line[constant.end:]
