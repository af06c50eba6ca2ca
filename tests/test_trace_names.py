"""Every interface name that ``explain``, the trace and the ladder show is one the docs define: a name a file
can use, or one of the two internal sides of an adapter or a VXLAN port's tunnel endpoint, which docs/topology.md's
"Interface names" table lists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vswitch.scenario.runner import ScenarioRunner
from vswitch.topology.build import build_network
from vswitch.topology.loader import load_topology

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "topologies").glob("*.yaml"))


def documented_internal_names() -> list[str]:
    """The rows of the Interface names table that name what only the trace shows, as regular expressions."""
    text = (ROOT / "docs" / "topology.md").read_text()
    table = text[text.index("## Interface names"):text.index("## Top level")]
    rows = re.findall(r"^\| `((?:hv1|sw1)\.[^`]+)` \| (?:in `explain`|likewise)", table, re.M)
    return [re.escape(row).replace("hv1", "[^.]+").replace("vm1", "[^.]+").replace("sw1", "[^.]+")
            .replace("p9", "[^.]+") for row in rows]


def test_the_docs_define_the_adapters_internal_sides_and_the_tunnel_endpoints() -> None:
    assert len(documented_internal_names()) == 3


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_name_the_trace_shows_is_defined(path: Path) -> None:
    spec = load_topology(path)
    net = build_network(spec)
    ScenarioRunner(spec, net).run()
    usable = set(net.ports) | {p.full_name for p in net.removed_ports} | set(net.switches) | set(net.hypervisors)
    internal = re.compile("|".join(f"(?:{pattern})" for pattern in documented_internal_names()))
    shown = {name for event in net.trace.events for name in (event.port, *event.outputs)}
    assert sorted(n for n in shown - usable if not internal.fullmatch(n)) == []
