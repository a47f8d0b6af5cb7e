"""Loaded by Python before train.py: reports each value the workspace's evaluation returns to the trainer.

The trainer puts this folder first on a run's PYTHONPATH and hands the run the writing end of a pipe whose
number is in AUTORESEARCH_METRIC_FD. This module takes that number (and the evaluation's name) out of the
environment, so train.py and the processes it starts are not handed them, and wraps the evaluation function
when its module is imported, before any `from prepare import evaluate_bpb` can bind the name. Each report is
one JSON line. It runs in the run's own interpreter, so it needs nothing but the standard library.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import json
import os
import sys

FD_VARIABLE = "AUTORESEARCH_METRIC_FD"
EVALUATION_VARIABLE = "AUTORESEARCH_METRIC_EVALUATION"
HERE = os.path.dirname(os.path.abspath(__file__))


class Reporter:
    """Writes one JSON line per report to the trainer's pipe; a closed pipe never fails the run."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __call__(self, **report: object) -> None:
        """Send one report; each line is shorter than PIPE_BUF, so lines from several processes never interleave."""
        try:
            os.write(self.fd, (json.dumps(report) + "\n").encode())
        except (OSError, ValueError):
            pass


class WrappingLoader:
    """The module's own loader, with the evaluation wrapped as soon as the module has run."""

    def __init__(self, loader: object, wrap: object) -> None:
        self._loader, self._wrap = loader, wrap

    def create_module(self, spec: object) -> object:
        """As the module's own loader does."""
        return self._loader.create_module(spec)

    def exec_module(self, module: object) -> None:
        """Run the module, then wrap its evaluation."""
        self._loader.exec_module(module)
        self._wrap(module)

    def __getattr__(self, name: str) -> object:  # get_source, is_package, ...: whatever the real loader offers
        return getattr(self._loader, name)


class EvaluationFinder:
    """A meta path finder that hands out the evaluation's module with a wrapping loader; it finds nothing itself."""

    def __init__(self, module: str, function: str, report: Reporter) -> None:
        self.module, self.function, self.report = module, function, report
        self.finding = False

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> object:
        """The spec the other finders give for the evaluation's module, its loader wrapped; None for any other."""
        if fullname != self.module or self.finding:  # a finder that asks the import system again gets the plain spec
            return None
        self.finding = True
        try:
            spec = self.others_spec(fullname, path, target)
        finally:
            self.finding = False
        if spec is None:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            self.report(missing=f"{self.module} cannot be loaded as a module with code")
            return spec
        spec.loader = WrappingLoader(spec.loader, self.wrap)
        return spec

    def others_spec(self, fullname: str, path: object, target: object) -> object:
        """The first spec another finder on sys.meta_path gives."""
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is not self and find is not None:
                spec = find(fullname, path, target)
                if spec is not None:
                    return spec
        return None

    def invalidate_caches(self) -> None:
        """Nothing is cached here."""

    def wrap(self, module: object) -> None:
        """Replace the module's evaluation with one that reports each value it returns."""
        original = getattr(module, self.function, None)
        if not callable(original):
            self.report(missing=f"{self.module} defines no function {self.function}")
            return
        report = self.report

        @functools.wraps(original)
        def evaluation(*args: object, **kwargs: object) -> object:
            result = original(*args, **kwargs)
            try:
                value = float(result)
            except Exception:  # a value that is not a number is reported as none, and matches nothing printed
                value = None
            report(value=value)
            return result

        setattr(module, self.function, evaluation)
        report(wrapped=f"{self.module}:{self.function}")


def forget_this_folder() -> None:
    """Take this folder off sys.path and PYTHONPATH, so nothing after this sees it."""
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != HERE]
    kept = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep)
            if entry and os.path.abspath(entry) != HERE]
    if kept:
        os.environ["PYTHONPATH"] = os.pathsep.join(kept)
    else:
        os.environ.pop("PYTHONPATH", None)


def run_next_sitecustomize() -> None:
    """Run the sitecustomize this one shadows (a distribution's or a virtual environment's), if there is one."""
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", sys.path)
    if spec is None or spec.loader is None or os.path.dirname(os.path.abspath(spec.origin or "")) == HERE:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


def install() -> None:
    """Watch the evaluation named in the environment, if the trainer asked for it."""
    fd_text = os.environ.pop(FD_VARIABLE, None)
    evaluation = os.environ.pop(EVALUATION_VARIABLE, "")
    forget_this_folder()
    if fd_text is None:
        return
    try:
        fd = int(fd_text)
        os.set_inheritable(fd, False)  # programs train.py starts are not handed the pipe
    except (ValueError, OSError):
        return
    report = Reporter(fd)
    report(loaded=evaluation)
    module, _, function = evaluation.partition(":")
    if not module or not function:
        report(missing=f"no evaluation named ({evaluation!r})")
        return
    sys.meta_path.insert(0, EvaluationFinder(module, function, report))


if __name__ == "sitecustomize":  # imported by Python at start-up; imported under its package name, it does nothing
    install()
    run_next_sitecustomize()
