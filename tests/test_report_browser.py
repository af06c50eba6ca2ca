"""The examples' HTML reports opened in a real browser (Debian's ``chromium``, headless): the DOM has one element
per node and per ladder arrow with its attributes, the browser's boxes of the nodes do not overlap, nothing is
fetched, and a screenshot is not blank. Without chromium these tests skip (CI installs it: ``.ci/run``).
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from vswitch.cli import main
from vswitch.report.layout import overlaps
from vswitch.topology.build import build_network
from vswitch.topology.loader import load_topology

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGIES = sorted((ROOT / "topologies").glob("*.yaml"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = ("two-hypervisors", "sriov-controls", "vlan-access-trunk")  # a few: each takes a browser start
TIMEOUT_S = 120

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (apt-get install chromium)")

#: Added to a test-only copy of a report: writes what the browser laid out into the DOM, for --dump-dom.
PROBE = """<script>
window.addEventListener("load", function () {
  var out = {nodes: [], hops: [], resources: performance.getEntriesByType("resource").map(function (e) {
    return e.name; })};
  document.querySelectorAll("[data-node]").forEach(function (g) {
    var r = g.querySelector("rect").getBoundingClientRect();
    out.nodes.push([g.getAttribute("data-node"), g.getAttribute("data-kind"), r.x, r.y, r.width, r.height]);
  });
  document.querySelectorAll("[data-frame]").forEach(function (g) {
    out.hops.push([g.getAttribute("data-frame"), g.getAttribute("data-point"), g.getAttribute("data-t")]);
  });
  out.bars = [];
  document.querySelectorAll("[data-mac]").forEach(function (g) {
    var r = g.querySelector("rect").getBoundingClientRect();
    var chart = g.closest("svg").getBoundingClientRect();
    out.bars.push([g.getAttribute("data-mac"), r.x, r.y, r.width, r.height, chart.x, chart.right]);
  });
  out.badges = [];
  document.querySelectorAll(".vs-topology .badge").forEach(function (g) {
    var r = g.querySelector("rect").getBoundingClientRect();
    out.badges.push([g.textContent, r.width]);
  });
  var pre = document.createElement("pre");
  pre.id = "vs-probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def chromium(tmp: Path, *args: str) -> str:
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                           f"--user-data-dir={tmp / 'profile'}", *args], capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def probe(report: Path, tmp: Path) -> dict:
    copy = tmp / "probe.html"
    copy.write_text(report.read_text().replace("</body>", PROBE + "</body>"))
    dom = chromium(tmp, "--virtual-time-budget=5000", "--dump-dom", copy.as_uri())
    start = dom.index('<pre id="vs-probe">') + len('<pre id="vs-probe">')
    return json.loads(dom[start:dom.index("</pre>", start)].replace("&quot;", '"').replace("&amp;", "&"))


def png_detail(path: Path) -> float:
    """How much the screenshot shows: the share of its filtered scanline bytes other than 0 and 255. PNG's row
    filters turn a plain area into zeros (a white page screenshot scores 0.02%, a report about 4%)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"IDAT":
            chunks.append(data[at + 8:at + 8 + length])
        at += 12 + length
    pixels = zlib.decompress(b"".join(chunks))
    return (len(pixels) - pixels.count(0) - pixels.count(0xFF)) / len(pixels)


@pytest.mark.parametrize("path", TOPOLOGIES, ids=[p.stem for p in TOPOLOGIES])
def test_the_report_in_chromium_has_every_node_and_arrow_no_overlap_nothing_fetched(path, tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet", "--html"]) == 0
    report = out / "report.html"
    seen = probe(report, tmp_path)
    net = build_network(load_topology(path), record=False)
    expected = {n for n in net.switches if n not in net.hypervisors} | set(net.hosts) | set(net.hypervisors)
    expected |= {vm for hv in net.hypervisors.values() for vm in hv.vms}
    names = [n[0] for n in seen["nodes"]]
    assert sorted(names) == sorted(expected)  # one element per node
    top = [n[2:] for n in seen["nodes"] if n[1] != "vm"]
    assert all(w > 0 and h > 0 for _, _, w, h in top)
    assert overlaps(top) == []
    vms = [n[2:] for n in seen["nodes"] if n[1] == "vm"]
    assert overlaps(vms) == []
    text = report.read_text()
    assert len(seen["hops"]) == text.count("data-frame=") > 0  # one element per arrow
    assert all(frame.isdecimal() and point and t.isdecimal() for frame, point, t in seen["hops"])
    assert seen["resources"] == []  # nothing fetched
    assert len(seen["bars"]) == text.count("data-mac=")  # the MAC tables over time: a bar per entry and port
    assert all(w > 0 and h > 0 and left <= x and x + w <= right for _, x, _, w, h, left, right in seen["bars"])
    rows: dict[float, list] = {}
    for _, x, y, w, _, _, _ in seen["bars"]:
        rows.setdefault(y, []).append((x, w))
    for bars in rows.values():  # one MAC's bars follow each other
        bars.sort()
        assert all(x + w <= next_x + 2.01 for (x, w), (next_x, _) in zip(bars, bars[1:]))
    io_badges = [label for label, width in seen["badges"] if label.startswith("io ") and width > 0]
    assert len(io_badges) == sum(vm.port.io is not None for hv in net.hypervisors.values() for vm in hv.vms.values())


@pytest.mark.parametrize("name", SCREENSHOTS)
def test_the_report_screenshot_is_not_blank(name, tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(ROOT / "topologies" / f"{name}.yaml"), "--out", str(out), "--quiet", "--html"]) == 0
    picture = tmp_path / "shot.png"
    chromium(tmp_path, "--window-size=1400,1800", f"--screenshot={picture}", (out / "report.html").as_uri())
    detail = png_detail(picture)
    assert detail > 0.01, f"the screenshot is blank ({detail:.2%} detail)"


def test_show_svg_alone_renders_in_chromium(tmp_path):
    picture, svg = tmp_path / "shot.png", tmp_path / "t.svg"
    assert main(["show", str(ROOT / "topologies/two-hypervisors.yaml"), "--svg", str(svg)]) == 0
    chromium(tmp_path, "--window-size=1000,600", f"--screenshot={picture}", svg.as_uri())
    assert png_detail(picture) > 0.01
