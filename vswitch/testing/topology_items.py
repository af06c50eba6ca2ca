"""Topology files as pytest tests: a file is a module, each of its expectations an item.

``TopologyFile`` loads the file when collected (a file that does not load is one failing item, ``load``, with
the file:line messages ``vswitch validate`` prints) and runs it at most once, when its first item runs, as
``vswitch run`` does (``record=False``, captures in a temporary folder). Each ``ExpectationItem`` then reports its
expectation's result: a failure says what was expected and what happened, as ``vswitch run`` says it.

An item's name is the expectation's kind and subject, ``delivered[vm1-to-h1]``, ``table[sw1-52:54:00:00:00:01]``
(the first field when it is a name, and a MAC or IPv4 field); two that would share one get ``@LINE``. A file
without expectations is one item, ``run``: it passes when the file builds and runs.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from ..core.errors import VSwitchError, error_lines
from ..core.mac import MACAddress
from ..net.network import Network
from ..scenario.context import CheckResult, RunResult
from ..scenario.runner import ScenarioRunner
from ..topology.build import build_network
from ..topology.loader import load_topology
from ..topology.scenario_reader import ExpectAction
from ..topology.spec import Expectation, TopologySpec, Where


class VSwitchFailure(Exception):
    """An item's failure, already worded for the user: reported without a traceback."""


class TopologyFile(pytest.File):
    """A topology file collected as a test module."""

    spec: TopologySpec | None = None
    _run: tuple[RunResult, Path] | VSwitchError | None = None

    def collect(self) -> Iterator[pytest.Item]:
        try:
            self.spec = load_topology(self._shown_path())
        except VSwitchError as exc:
            yield ProblemItem.from_parent(self, name="load", problem=exc)
            return
        checks = expectations(self.spec)
        if not checks:
            yield ExpectationItem.from_parent(self, name="run", where=None)
        names = [item_name(check) for check, _ in checks]
        for (check, where), name in zip(checks, names):
            unique = name if names.count(name) == 1 else _at_line(name, where.line)
            yield ExpectationItem.from_parent(self, name=unique, where=where)

    def _shown_path(self) -> Path:
        """The file as messages name it: relative to where pytest was started, when it is below it."""
        try:
            return self.path.relative_to(self.config.invocation_params.dir)
        except ValueError:
            return self.path

    def run_once(self) -> tuple[RunResult, Path]:
        """The run's result and its captures' folder; the file runs when first asked (a ``VSwitchError`` is kept,
        and raised again for every item)."""
        if self._run is None:
            self._run = self._play()
        if isinstance(self._run, VSwitchError):
            raise VSwitchFailure("\n".join(error_lines(self._run)))
        return self._run

    def _play(self) -> tuple[RunResult, Path] | VSwitchError:
        assert self.spec is not None
        out = _temporary_folder(self.config, self.spec.name)
        try:
            net: Network = build_network(self.spec, capture_dir=out, record=False)
            try:
                return ScenarioRunner(self.spec, net).run(), out
            finally:
                net.close()
        except VSwitchError as exc:
            return exc


class ExpectationItem(pytest.Item):
    """One expectation of a topology file (``where`` None: the file's run itself)."""

    def __init__(self, *, where: Where | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.where = where

    def runtest(self) -> None:
        assert isinstance(self.parent, TopologyFile)
        result, out = self.parent.run_once()
        if self.where is None:
            return
        found = [check for check in result.checks if check.where == self.where]
        if not found:
            end = result.network.now
            pytest.skip(f"{self.where}: not checked: the run ended at {end} ns, before this expectation's time")
        failed = [check for check in found if not check.passed]
        if failed:
            raise VSwitchFailure("\n".join(_failed_line(check) for check in failed) + f"\ncaptures of the run: {out}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, VSwitchFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        line = self.where.line - 1 if self.where is not None and self.where.line else 0
        return self.path, line, self.name


class ProblemItem(pytest.Item):
    """A file that does not load: one failing item with its problems, one line each."""

    def __init__(self, *, problem: VSwitchError, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.problem = problem

    def runtest(self) -> None:
        raise VSwitchFailure("\n".join(error_lines(self.problem)))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, VSwitchFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, self.name


def expectations(spec: TopologySpec) -> list[tuple[Expectation, Where]]:
    """The file's expectations, ``expect:`` items and timed ``expect`` actions of the scenario, in file order."""
    found = [(action.action.check, action.where) for action in spec.scenario if isinstance(action.action, ExpectAction)]
    found += [(expectation.check, expectation.where) for expectation in spec.expectations]
    return sorted(found, key=lambda pair: (pair[1].line, pair[1].column))


def item_name(check: Expectation) -> str:
    """``kind[subject]``: the first field when it names something, then the first MAC or IPv4 address."""
    values = [(f.name, getattr(check, f.name)) for f in dataclasses.fields(check) if f.name != "places"]
    subject = [values[0][1]] if values and isinstance(values[0][1], str) else []
    subject += [value for name, value in values[1:] if isinstance(value, MACAddress) or name == "ip"][:1]
    return f"{check.kind}[{'-'.join(str(part) for part in subject)}]" if subject else check.kind


def _at_line(name: str, line: int) -> str:
    """``table[sw1@12]``, ``loop[@12]``: a name two expectations share, made unique by the line."""
    return f"{name[:-1]}@{line}]" if name.endswith("]") else f"{name}[@{line}]"


def _failed_line(check: CheckResult) -> str:
    return f"{check.where}: expected {check.description}; got {check.actual}"


def _temporary_folder(config: pytest.Config, name: str) -> Path:
    """A fresh folder for a run's captures: under pytest's ``--basetemp`` (kept as ``tmp_path`` folders are)."""
    factory = getattr(config, "_tmp_path_factory", None)  # set by pytest's tmp_path plugin, unless disabled
    if factory is not None:
        return Path(factory.mktemp(f"vswitch-{name}"))
    return Path(tempfile.mkdtemp(prefix=f"vswitch-{name}-"))
