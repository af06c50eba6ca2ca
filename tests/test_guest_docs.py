"""docs/guests.md stays true: its complete example runs green and every key the readers accept is documented."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from conftest import table_rows
from vswitch.topology import guest_reader
from vswitch.topology.build import build_network
from vswitch.scenario.runner import ScenarioRunner
from vswitch.topology.loader import load_topology_text

DOC = (Path(__file__).resolve().parent.parent / "docs" / "guests.md").read_text()


def section(heading: str) -> str:
    start = DOC.index(f"\n{heading}\n")
    following = re.search(r"\n#{2,3} ", DOC[start + len(heading) + 2:])
    return DOC[start:start + len(heading) + 2 + (following.start() if following else len(DOC))]


def keys_read_by(function) -> set[str]:
    source = inspect.getsource(function)
    return set(re.findall(r'\.take(?:_map|_maps|_list)?\("(\w+)"', source)) - {"udp"} | (
        {"udp"} if 'take_map("udp"' in source else set())


def test_the_complete_example_runs_green():
    [block] = re.findall(r"<!-- test: full -->\n```yaml\n(.*?)```", DOC, re.S)
    spec = load_topology_text(block, "guests.yaml")
    result = ScenarioRunner(spec, build_network(spec)).run()
    assert result.passed and len(result.checks) == 4
    assert result.sessions["during-move"].summary()["loss"] == "10%"


def test_every_action_and_expectation_key_is_documented():
    for kind, reader in guest_reader.GUEST_ACTIONS.items():
        text = section(f"### {kind}")
        keys = keys_read_by(reader) | (keys_read_by(guest_reader._timing) if "_timing(" in inspect.getsource(reader)
                                       else set())
        missing = sorted(k for k in keys if f"| `{k}` |" not in text and f"`{k}`" not in text)  # nested: in a row
        assert not missing, f"docs/guests.md ### {kind} lacks {missing}"
    for kind, reader in guest_reader.GUEST_EXPECTATIONS.items():
        text = section("### ping (expectation)" if kind == "ping" else f"### {kind}")
        missing = sorted(k for k in keys_read_by(reader) if f"| `{k}` |" not in text)
        assert not missing, f"docs/guests.md {kind} expectation lacks {missing}"
    stack = section("## Giving an interface a stack")
    assert all(f"| `{k}` |" in stack for k in keys_read_by(guest_reader.read_guest))
    vary = section("### stream")
    assert all(f"`{k}`" in vary for k in keys_read_by(guest_reader._vary))


def test_the_examples_table_lists_every_guest_example_once_with_what_it_shows():
    examples = sorted(p.name for p in (Path(__file__).resolve().parent.parent / "topologies").glob("*.yaml")
                      if p.name.startswith(("guests-", "migration-", "replay-")))
    rows = table_rows(section("## The examples"), "file")
    assert examples and sorted(row[0].strip("`") for row in rows) == examples
    assert all(len(row) == 2 and row[1] for row in rows)
