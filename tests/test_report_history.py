"""The HTML report's MAC tables over time (``report/mac_history.py``), its I/O costs table and the I/O model
badges on VMs (``docs/report.md``). The browser's view is ``tests/test_report_browser.py``."""

from __future__ import annotations

from pathlib import Path

from test_report import Elements, run_html

from vswitch.cli import main
from vswitch.report.mac_history import MacHistory, round_step
from vswitch.scenario.runner import ScenarioRunner
from vswitch.topology.build import build_network
from vswitch.topology.loader import load_topology, load_topology_text

ROOT = Path(__file__).resolve().parent.parent
H1, H2, VM1 = "02:00:00:00:00:01", "02:00:00:00:00:02", "52:54:00:00:00:01"


def table_rows(text: str, anchor: str) -> list[list[str]]:
    """The cells of the table in section ``anchor``, row by row (header first)."""
    section = text[text.index(f'<section id="{anchor}">'):]
    section = section[:section.index("</section>")]
    rows = []
    for row in section.split("<tr>")[1:]:
        cells = [cell.split(">", 1)[1].split("</t", 1)[0] for cell in row.split("<t")[1:] if cell[:2] in ("d>", "h>")
                 or cell.startswith("d ")]
        rows.append(cells)
    return rows


def test_the_mac_table_changes_say_what_was_learned_aged_and_moved_and_when(tmp_path):
    text = run_html(ROOT / "topologies/mac-ageing-and-moves.yaml", tmp_path)
    rows = table_rows(text, "mac-changes")
    assert rows == [["time", "switch", "mac", "change", "port", "from"],
                    ["1us", "sw1", H1, "learned", "p1", ""],
                    ["2.000001s", "sw1", H2, "learned", "p2", ""],
                    ["10.000001s", "sw1", H1, "aged", "p1", ""],  # the 10 s ageing time after its last frame
                    ["12.000001s", "sw1", H2, "aged", "p2", ""],
                    ["16.000001s", "sw1", H2, "learned", "p2", ""],
                    ["19.000001s", "sw1", VM1, "learned", "p3", ""],
                    ["20.100001s", "sw1", H1, "learned", "p1", ""],
                    ["20.200001s", "sw1", VM1, "moved", "p4", "p3"]]  # the migration's announcement


def test_the_chart_draws_a_bar_per_port_a_mac_was_known_on(tmp_path):
    text = run_html(ROOT / "topologies/mac-ageing-and-moves.yaml", tmp_path)
    bars = [(b["data-mac"], b["data-port"], int(b["data-from"]), int(b["data-to"]), b["data-start"], b["data-end"])
            for b in Elements(text).with_attr("data-mac")]
    end = 20_300_002_000  # the run's last instant
    assert bars == [(H1, "p1", 1_000, 10_000_001_000, "learned", "aged"),
                    (H1, "p1", 20_100_001_000, end, "learned", "end"),
                    (H2, "p2", 2_000_001_000, 12_000_001_000, "learned", "aged"),
                    (H2, "p2", 16_000_001_000, end, "learned", "end"),
                    (VM1, "p3", 19_000_001_000, 20_200_001_000, "learned", "moved"),
                    (VM1, "p4", 20_200_001_000, end, "moved", "end")]
    assert text.count('class="aged"') == 2  # a cross where each aged out
    assert text.index('id="mac-history"') < text.index('id="mac-changes"') < text.index('id="mac-tables"')


def test_an_entry_nobody_looked_at_again_still_ages_by_the_end(tmp_path):
    """The table notices ageing lazily; the report asks it at the end, and dates the change when it happened."""
    text = """
name: quiet
until: 10s
switches: [{name: sw1, ageing: 1s}]
hosts:
  - {name: h1, mac: "02:00:00:00:00:01"}
  - {name: h2, mac: "02:00:00:00:00:02"}
links: [[h1, sw1.p1], [h2, sw1.p2]]
scenario:
  - {at: 0s, send: {from: h1, dst: "02:00:00:00:00:02"}}
  - {at: 5s, send: {from: h1, dst: "02:00:00:00:00:02"}}
"""
    spec = load_topology_text(text, "quiet.yaml")
    net = build_network(spec, record=False)
    runner = ScenarioRunner(spec, net)
    history = MacHistory()
    history.watch(net)
    runner.run()
    history.finish(net)
    assert [(r["time"], r["mac"], r["change"]) for r in history.rows()] == [
        ("0s", H1, "learned"), ("1s", H1, "aged"), ("5s", H1, "learned"), ("6s", H1, "aged")]


def test_the_history_keeps_the_first_changes_and_counts_the_rest():
    spec = load_topology(ROOT / "topologies/mac-ageing-and-moves.yaml")
    net = build_network(spec, record=False)
    runner = ScenarioRunner(spec, net)
    history = MacHistory(kept=3)
    history.watch(net)
    runner.run()
    history.finish(net)
    assert (len(history.rows()), history.total) == (3, 8)
    assert history.note() == "<p>the first 3 of 8 changes</p>"


def test_axis_steps_are_round():
    assert [round_step(span) for span in (5, 6, 20_300_002_000, 1_000_000_000, 999)] == [
        1, 2, 5_000_000_000, 200_000_000, 200]


def test_vms_wear_their_io_model_as_a_badge_and_the_report_has_the_io_costs(tmp_path):
    assert main(["show", str(ROOT / "topologies/io-models-compared.yaml"), "--svg", str(tmp_path / "t.svg")]) == 0
    svg = (tmp_path / "t.svg").read_text()
    for badge in ("io emulated", "io virtio", "io vhost", "io passthrough posted"):
        assert svg.count(f">{badge}<") == 1, badge
    text = run_html(ROOT / "topologies/io-models-compared.yaml", tmp_path / "run")
    rows = table_rows(text, "io")
    assert rows[0][:3] == ["vm", "model", "tx/rx"] and [r[:2] for r in rows[1:]] == [
        ["vm-e1000", "emulated"], ["vm-vf", "passthrough"], ["vm-vhost", "vhost"], ["vm-virtio", "virtio"]]
    no_io = run_html(ROOT / "topologies/two-vms-one-adapter.yaml", tmp_path / "plain")
    assert 'id="io"' not in no_io and ">io " not in no_io
