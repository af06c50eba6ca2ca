"""vswitch's pytest plugin (the ``pytest11`` entry point ``vswitch.testing.plugin``): topology files as tests,
fixtures, markers. docs/testing.md is its user's guide.

- **Topology files as tests**, opt-in: the ini option ``vswitch_files`` (glob patterns, as ``python_files``:
  ``topologies/*.yaml``) or ``--vswitch`` (``*.yaml`` and ``*.yml``). Even then a file is collected only if it
  looks like a topology (a top-level ``switches``, ``hosts``, ``hypervisors`` or ``links`` key) or was named on
  the command line: other YAML (CI configs, compose files) is never collected. ``topology_items.py`` runs them.
- **Fixtures**: ``vswitch_network`` (an empty ``Network`` whose captures go to ``tmp_path``, closed after the
  test) and ``vswitch_topology`` (a function: path -> the ``RunResult`` of the loaded, built and run file).
- **Markers**: ``vswitch_root`` (skipped unless root) and ``vswitch_tshark`` (skipped without tshark).

pytest imports this module in every run where vswitch is installed: it imports the rest of vswitch only when a
topology file is collected or a fixture used.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

#: The patterns ``--vswitch`` collects when the ini option ``vswitch_files`` is not set.
DEFAULT_PATTERNS = ("*.yaml", "*.yml")
#: A top-level key only a topology file has among common YAML files; the file's first MiB is searched.
_TOPOLOGY_KEY = re.compile(rb"^(switches|hosts|hypervisors|links)[ \t]*:", re.M)
_SNIFF_BYTES = 1 << 20


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vswitch", "vswitch topology files as tests")
    group.addoption("--vswitch", action="store_true", default=False,
                    help="collect topology files (*.yaml, *.yml, or the vswitch_files patterns) as tests: each "
                         "expectation an item")
    parser.addini("vswitch_files", type="args", default=[],
                  help="glob patterns of topology files to collect as tests, as python_files (e.g. "
                       "topologies/*.yaml); setting it turns collection on")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "vswitch_root: the test needs root (network namespaces, veth, bridges): "
                                       "skipped otherwise")
    config.addinivalue_line("markers", "vswitch_tshark: the test runs tshark: skipped when it is not on PATH")


def collected_patterns(config: pytest.Config) -> tuple[str, ...]:
    """The patterns of topology files to collect: none unless opted in."""
    patterns = tuple(config.getini("vswitch_files"))
    if patterns:
        return patterns
    return DEFAULT_PATTERNS if config.getoption("vswitch") else ()


def matches(path: Path, patterns: tuple[str, ...]) -> bool:
    """As pytest matches ``python_files``: a pattern without ``/`` against the file name, one with ``/``
    against the end of the path."""
    for pattern in patterns:
        if "/" not in pattern:
            if fnmatch.fnmatch(path.name, pattern):
                return True
        elif fnmatch.fnmatch(path.as_posix(), pattern if os.path.isabs(pattern) else f"*/{pattern}"):
            return True
    return False


def looks_like_topology(path: Path) -> bool:
    """A top-level topology key in the file's first MiB (a file that cannot be read is left to other plugins)."""
    try:
        with open(path, "rb") as file:
            return _TOPOLOGY_KEY.search(file.read(_SNIFF_BYTES)) is not None
    except OSError:
        return False


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    patterns = collected_patterns(parent.config)
    if not patterns or not matches(file_path, patterns):
        return None
    if not (parent.session.isinitpath(file_path) or looks_like_topology(file_path)):
        return None
    from .topology_items import TopologyFile

    return TopologyFile.from_parent(parent, path=file_path)


@pytest.hookimpl(tryfirst=True)  # before the test's fixtures are set up
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("vswitch_root") is not None and os.geteuid() != 0:
        pytest.skip("needs root (vswitch_root): network namespaces, veth and bridges")
    if item.get_closest_marker("vswitch_tshark") is not None and shutil.which("tshark") is None:
        pytest.skip("needs tshark on PATH (vswitch_tshark): apt-get install tshark, or Wireshark's installer")


@pytest.fixture
def vswitch_network(tmp_path: Path) -> Iterator[Any]:
    """An empty ``Network`` (recording hops and deliveries) whose captures go to ``tmp_path``; closed after the
    test."""
    from ..net.network import Network

    with Network(capture_dir=tmp_path) as net:
        yield net


@pytest.fixture
def vswitch_topology(tmp_path: Path) -> Callable[..., Any]:
    """``vswitch_topology(path, until=None)``: load the topology file, build it (recording, captures in
    ``tmp_path/<name>/``), run its scenario and return the ``RunResult``; ``result.network`` is the network, its
    captures closed. Expectations that fail do not raise: ``assert_passed(result)`` does."""
    from ..scenario.runner import ScenarioRunner
    from ..topology.build import build_network
    from ..topology.loader import load_topology

    def run(path: str | os.PathLike[str], until: int | None = None) -> Any:
        spec = load_topology(path)
        out = tmp_path / spec.name
        for number in range(2, 1000):
            if not out.exists():
                break
            out = tmp_path / f"{spec.name}-{number}"  # the same file run twice in one test
        net = build_network(spec, capture_dir=out)
        try:
            return ScenarioRunner(spec, net).run(until)
        finally:
            net.close()

    return run
