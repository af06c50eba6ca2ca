"""The HTML report, the topology SVG, the frame ladder and the Mermaid export (``docs/report.md``), read back as
a user's browser would get them: element counts, attributes, boxes, links, size and determinism.

The real browser's view of the same files is ``tests/test_report_browser.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

import vswitch
from vswitch.cli import main
from vswitch.report import diagram
from vswitch.outputs import MANIFEST
from vswitch.report.layout import overlaps
from vswitch.topology.build import build_network
from vswitch.topology.loader import load_topology

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGIES = sorted((ROOT / "topologies").glob("*.yaml"))
examples = pytest.mark.parametrize("path", TOPOLOGIES, ids=[p.stem for p in TOPOLOGIES])


class Elements(HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def with_attr(self, name: str) -> list[dict[str, str]]:
        return [attrs for _, attrs in self.tags if name in attrs]


def nodes(text: str) -> dict[str, tuple[str, tuple[float, float, float, float]]]:
    """``data-node`` -> (kind, box) of every node drawn."""
    return {a["data-node"]: (a["data-kind"], tuple(float(v) for v in a["data-box"].split()))  # type: ignore[misc]
            for a in Elements(text).with_attr("data-node")}


def hops(text: str) -> list[dict[str, str]]:
    return Elements(text).with_attr("data-frame")


def run_html(path: Path, out: Path, *extra: str) -> str:
    assert main(["run", str(path), "--out", str(out), "--quiet", "--html", *extra]) in (0, 1)
    return (out / "report.html").read_text()


def topology_file(tmp_path: Path, switches: int, hosts: int, hypervisors: int, vms: int) -> Path:
    """A topology of this many switches (in a chain), hosts and hypervisors of ``vms`` VMs each."""
    spec = {"name": "big", "switches": [{"name": f"sw{i}"} for i in range(1, switches + 1)],
            "hosts": [{"name": f"h{i}", "mac": f"02:00:00:00:{i // 256:02x}:{i % 256:02x}"} for i in range(1, hosts + 1)],
            "hypervisors": [{"name": f"hv{j}", "mac": f"02:00:00:01:{j // 256:02x}:{j % 256:02x}",
                             "mode": ("bridge", "vepa", "private")[j % 3],
                             "vms": [{"name": f"vm{j}x{k}", "prefix": "qemu"} for k in range(1, vms + 1)]}
                            for j in range(1, hypervisors + 1)],
            "links": [[f"sw{i}", f"sw{i + 1}"] for i in range(1, switches)]
            + [[f"h{i}", f"sw{1 + i % switches}"] for i in range(1, hosts + 1)]
            + [[f"hv{j}", f"sw{1 + j % switches}"] for j in range(1, hypervisors + 1)],
            "scenario": [{"at": "0s", "send": {"from": "h1", "dst": "broadcast", "name": "hello"}}]}
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def assert_no_overlap(drawn: dict[str, tuple[str, tuple[float, float, float, float]]], net) -> None:
    top = [name for name, (kind, _) in drawn.items() if kind != "vm"]
    assert overlaps([drawn[n][1] for n in top]) == [], "top-level boxes overlap"
    for name, hv in net.hypervisors.items():
        vms = [v for v in hv.vms if v in drawn]
        assert overlaps([drawn[v][1] for v in vms]) == [], f"VM boxes of {name} overlap"
        x, y, w, h = drawn[name][1]
        for vm in vms:
            vx, vy, vw, vh = drawn[vm][1]
            assert x < vx and vx + vw < x + w and y < vy and vy + vh < y + h, f"{vm} sticks out of {name}"


# -- the topology picture ------------------------------------------------------------------------------------
@examples
def test_show_svg_draws_every_node_once_without_overlapping_boxes(path, tmp_path):
    assert main(["show", str(path), "--svg", str(tmp_path / "t.svg")]) == 0
    text = (tmp_path / "t.svg").read_text()
    assert text.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    net = build_network(load_topology(path), record=False)
    drawn = nodes(text)
    expected = {n: "switch" for n in net.switches if n not in net.hypervisors}
    expected |= {n: "host" for n in net.hosts} | {n: "hypervisor" for n in net.hypervisors}
    expected |= {vm: "vm" for hv in net.hypervisors.values() for vm in hv.vms}
    assert {n: kind for n, (kind, _) in drawn.items()} == expected
    assert len(Elements(text).with_attr("data-node")) == len(expected)  # one element each
    assert len(Elements(text).with_attr("data-link")) == len(net.links)
    assert_no_overlap(drawn, net)


def test_the_picture_shows_modes_macs_vendors_and_sriov_badges(tmp_path):
    assert main(["show", str(ROOT / "topologies/sriov-controls.yaml"), "--svg", str(tmp_path / "t.svg")]) == 0
    text = (tmp_path / "t.svg").read_text()
    for shown in ("adapter: macvlan bridge", "eth0 52:54:00:00:00:02", "QEMU/KVM", "state disable", "10 Mbps",
                  "trust on", "MAC filter 4"):
        assert f">{shown}<" in text, shown


def test_vlans_colour_cables_and_vnics(tmp_path):
    assert main(["show", str(ROOT / "topologies/vlan-access-trunk.yaml"), "--svg", str(tmp_path / "t.svg")]) == 0
    text = (tmp_path / "t.svg").read_text()
    assert re.search(r">p\d+ trunk [\d,]+<", text) and re.search(r">p\d+ vlan \d+<", text)
    cable_colours = set(re.findall(r'<path d="[^"]+" stroke="(#[0-9a-f]{6})"', text))
    assert len(cable_colours) >= 3  # two access VLANs and the trunk


def test_200_nodes_are_all_drawn_and_more_collapse_vms_into_a_count(tmp_path):
    path = topology_file(tmp_path, 3, 40, 20, 7)  # 3 + 40 + 20 + 140 = 203 nodes: collapsed
    net = build_network(load_topology(path), record=False)
    drawn = nodes(diagram.render_svg(net, "big"))
    assert sum(kind == "vm" for kind, _ in drawn.values()) == 0 and len(drawn) == 63
    assert ">7 VMs (collapsed: see the tables)<" in diagram.render_svg(net, "big")
    assert_no_overlap(drawn, net)
    path = topology_file(tmp_path, 3, 40, 19, 7)  # 3 + 40 + 19 + 133 = 195: every VM drawn
    net = build_network(load_topology(path), record=False)
    drawn = nodes(diagram.render_svg(net, "big"))
    assert sum(kind == "vm" for kind, _ in drawn.values()) == 133
    assert_no_overlap(drawn, net)


def test_two_nodes(tmp_path):
    path = topology_file(tmp_path, 1, 1, 0, 0)
    net = build_network(load_topology(path), record=False)
    drawn = nodes(diagram.render_svg(net, "big"))
    assert set(drawn) == {"sw1", "h1"}
    (_, (_, sy, _, sh)), (_, (_, hy, _, _)) = drawn["sw1"], drawn["h1"]
    assert sy + sh < hy  # the host hangs below its switch


# -- the run report ----------------------------------------------------------------------------------------------
def test_run_html_ladder_arrows_carry_the_frame_number_point_and_time_of_explain(tmp_path, capsys):
    text = run_html(ROOT / "topologies/two-hypervisors.yaml", tmp_path)
    arrows = hops(text)
    assert arrows and all({"data-frame", "data-point", "data-t", "data-to"} <= set(a) for a in arrows)
    assert sorted({int(a["data-frame"]) for a in arrows}) == [1, 2, 3, 4, 5]  # every frame of the run
    capsys.readouterr()
    assert main(["explain", str(ROOT / "topologies/two-hypervisors.yaml"), "1"]) == 0
    explained = [line.split()[:2] for line in capsys.readouterr().out.splitlines() if " -> " in line]
    decisions = {(f"{int(a['data-t']) / 1e9:.9f}s", a["data-point"] + ":") for a in arrows if a["data-frame"] == "1"}
    assert sorted(decisions) == sorted({(time, port) for time, port in explained})  # each hop with outputs
    # frame 1 (vm1 to vm3, unknown at first) is flooded: h1 drops its copy, as `explain` says
    flood_to_h1 = [a for a in arrows if a["data-frame"] == "1" and a["data-to"] == "sw1.p1"]
    assert [(a["data-outcome"], a["data-end"]) for a in flood_to_h1] == [("flooded: unknown", "dropped: not_for_us")]
    assert ">vm1-to-vm3<" not in text and "#1 vm1-to-vm3" in text  # the frame's name beside its number


def test_the_ladder_draws_a_bridges_bpdu_leaving_its_switch_not_appearing_at_the_host(tmp_path):
    bpdus = [a for a in hops(run_html(ROOT / "topologies/stp-triangle.yaml", tmp_path))
             if a.get("data-end") == "dropped: not_for_us"]  # hosts take no BPDU (01:80:c2:00:00:00 is not theirs)
    assert bpdus and all(a["data-point"].startswith("sw") and a["data-outcome"] == "transmitted" for a in bpdus)
    assert {a["data-to"] for a in bpdus} == {"h1.eth0", "h2.eth0"}


def test_run_html_tables_and_relative_capture_links(tmp_path):
    text = run_html(ROOT / "topologies/two-vms-one-adapter.yaml", tmp_path)
    for section in ("topology", "ladder", "expectations", "mac-tables", "adapters", "counters", "captures"):
        assert f'id="{section}"' in text, section
    assert text.count('class="pass"') == 7 and 'class="fail"' not in text
    links = [a["href"] for a in Elements(text).with_attr("href") if not a["href"].startswith("#")]
    assert sorted(links) == sorted(p.name for p in tmp_path.iterdir() if p.name not in ("report.html", MANIFEST))
    assert all((tmp_path / link).is_file() for link in links)


def test_the_report_is_self_contained(tmp_path):
    text = run_html(ROOT / "topologies/sriov-controls.yaml", tmp_path)
    tags = {tag for tag, _ in Elements(text).tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed"}
    assert re.findall(r"https?://[^\"' ]+", text) == ["http://www.w3.org/2000/svg"] * text.count("<svg ")
    assert "url(" not in text.replace("url(#vs-head-", "")  # markers only: nothing outside the file


def test_the_report_and_svg_are_the_same_bytes_on_every_run(tmp_path):
    path = ROOT / "topologies/two-hypervisors.yaml"
    first = run_html(path, tmp_path / "a", "--mermaid")
    package = Path(vswitch.__file__).resolve().parent.parent  # the build under test, installed or the source tree
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(package)}
    subprocess.run([sys.executable, "-m", "vswitch", "run", str(path), "--out", str(tmp_path / "b"), "--quiet",
                    "--html", "--mermaid"], cwd=tmp_path, env=env, check=True, capture_output=True)
    assert (tmp_path / "b" / "report.html").read_text() == first
    for name in ("topology.mmd", "ladder.mmd"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_the_ladder_does_not_grow_with_the_run(tmp_path):
    def report(count: int) -> str:
        spec = {"name": "series", "switches": [{"name": "sw1"}],
                "hosts": [{"name": "h1", "mac": "02:00:00:00:00:01"}, {"name": "h2", "mac": "02:00:00:00:00:02"}],
                "links": [["h1", "sw1"], ["h2", "sw1"]],
                "scenario": [{"at": "0s", "send": {"from": "h1", "to": "h2", "count": count, "interval": "1us",
                                                   "name": "burst"}}]}
        path = tmp_path / f"s{count}.yaml"
        path.write_text(yaml.safe_dump(spec))
        return run_html(path, tmp_path / f"out{count}")

    small, big = report(300), report(20_000)
    assert len(hops(small)) == len(hops(big)) == 200 * 2  # the first 200 frames, two hops each
    assert "19,800 more frames not drawn" in big and "100 more frames not drawn" in small
    assert abs(len(big) - len(small)) < 200  # a few digits of counters


def test_mermaid_export(tmp_path):
    assert main(["show", str(ROOT / "topologies/two-hypervisors.yaml"), "--mermaid", str(tmp_path)]) == 0
    topology = (tmp_path / "topology.mmd").read_text()
    assert topology.startswith("flowchart TB\n") and "subgraph n_hv1_box" in topology
    assert all(f"n_{name}" in topology for name in ("sw1", "h1", "hv1", "hv2", "vm1", "vm4"))
    assert not (tmp_path / "ladder.mmd").exists()
    run_html(ROOT / "topologies/two-hypervisors.yaml", tmp_path / "run", "--mermaid")
    ladder = (tmp_path / "run" / "ladder.mmd").read_text()
    assert ladder.startswith("sequenceDiagram\n")
    assert "n_sw1-xn_h1: #1 vm1-to-vm3 flooded: unknown, then dropped: not_for_us" in ladder


def test_show_html_is_the_topology_alone(tmp_path):
    assert main(["show", str(ROOT / "topologies/two-hypervisors.yaml"), "--html", str(tmp_path / "t.html")]) == 0
    text = (tmp_path / "t.html").read_text()
    assert text.startswith("<!DOCTYPE html>") and 'class="vs-topology"' in text and "vs-ladder" not in text


def test_run_html_at_a_path_of_its_own_links_the_captures_relative_to_it(tmp_path):
    (tmp_path / "reports").mkdir()
    report = tmp_path / "reports" / "lab.html"
    assert main(["run", str(ROOT / "topologies/two-vms-one-adapter.yaml"), "--out", str(tmp_path / "caps"),
                 "--quiet", "--html", str(report)]) == 0
    links = [a["href"] for a in Elements(report.read_text()).with_attr("href") if not a["href"].startswith("#")]
    assert links and all(link.startswith("../caps/") and (report.parent / link).is_file() for link in links)
    assert not (tmp_path / "caps" / "report.html").exists()


def inside_the_picture(text: str) -> list[str]:
    """The cable paths of an SVG that reach outside its width and height (nothing should be cut off)."""
    width, height = (float(v) for v in re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', text).groups())
    outside = []
    for path in re.findall(r'<path d="([^"]+)" stroke=', text):
        points = [float(v) for v in re.findall(r"-?[\d.]+", path)]
        if any(not 0 <= x <= width for x in points[0::2]) or any(not 0 <= y <= height for y in points[1::2]):
            outside.append(path)
    return outside


@examples
def test_every_cable_stays_inside_the_picture(path, tmp_path):
    net = build_network(load_topology(path), record=False)
    assert inside_the_picture(diagram.render_svg(net, "t")) == []


def test_cables_between_machines_with_no_switch_arc_inside_the_picture(tmp_path):
    path = tmp_path / "loose.yaml"
    path.write_text('name: loose\nhosts: [{name: h1, mac: "02:00:00:00:00:01"}, {name: h2, mac: "02:00:00:00:00:02"}]\n'
                    'links: [[h1, h2]]\nscenario: [{send: {from: h1, to: h2, name: x}}]\n')
    net = build_network(load_topology(path), record=False)
    text = diagram.render_svg(net, "loose")
    assert len(re.findall(r'<path d="M[^"]* C', text)) == 1 and inside_the_picture(text) == []
