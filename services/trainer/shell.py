"""How the train command is handed to the shell: a simple command replaces the shell instead of running under it."""

from __future__ import annotations

import re
import shlex

# Words that run nothing by themselves when exec'd: shell keywords and built-ins with no program behind them.
_NOT_A_PROGRAM = {
    "!", "{", "}", "[[", "]]", "case", "do", "done", "elif", "else", "esac", "fi", "for", "function", "if", "in",
    "select", "then", "time", "until", "while", ".", ":", "alias", "break", "cd", "continue", "eval", "exec", "exit",
    "export", "read", "readonly", "return", "set", "shift", "source", "trap", "umask", "unset", "wait",
}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# Words that run the rest of the command rather than being its program.
WRAPPERS = frozenset({"env", "exec", "nohup", "nice", "time", "command"})
_REDIRECTION = re.compile(r"^(<|>|>>|<>|>\||<&|>&|<<|<<-)$")  # POSIX only: `&>` backgrounds in dash


def exec_form(command: str) -> str:
    """`exec command` when command is one simple command, so the shell becomes the run; otherwise command unchanged.

    A shell that forks its one command stays between the trainer and the run, and a signal meant for the run
    reaches only the shell. Lists, pipelines, background jobs, compound commands and leading variable
    assignments are left to the shell as written.
    """
    if "\n" in command:
        return command
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError:  # an unclosed quote: the shell will say what is wrong
        return command
    if not words or words[0] in _NOT_A_PROGRAM or _ASSIGNMENT.match(words[0]):
        return command
    operators = [word for word in words if word and set(word) <= set("();<>|&")]
    if any(not _REDIRECTION.match(word) for word in operators):
        return command
    return f"exec {command}"


def first_command(command: str) -> list[str]:
    """The words of the command's first simple command, leading assignments and wrappers set aside.

    Raises ValueError where the command is not valid shell (an open quote).
    """
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words: list[str] = []
    for word in lexer:
        if set(word) <= set(lexer.punctuation_chars):  # ; && | > ... end the first simple command
            break
        if not words and (_ASSIGNMENT.match(word) or word in WRAPPERS):
            continue
        words.append(word)
    return words
