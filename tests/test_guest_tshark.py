"""Wireshark reads what guest stacks send: ARP, RARP, ICMP and UDP dissect cleanly, every checksum is good."""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from vswitch.topology.build import build_network
from vswitch.scenario.runner import ScenarioRunner
from vswitch.topology.loader import load_topology_text

pytestmark = pytest.mark.vswitch_tshark  # the plugin's marker: skipped where tshark is not installed

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ("frame.number", "_ws.malformed", "eth.type", "arp.opcode", "ip.checksum.status", "icmp.checksum.status",
          "udp.checksum.status", "icmp.type", "udp.dstport")
ALL_KINDS = """\
name: kinds
switches: [{name: sw1}]
hosts:
  - {name: h1, mac: "02:00:00:00:00:01", ip: 192.0.2.1/24}
hypervisors:
  - {name: hv1, mac: "02:00:00:00:00:aa", ip: 192.0.2.100/24, vms: [{name: vm1, ip: 192.0.2.11/24}]}
  - {name: hv2, mac: "02:00:00:00:00:bb"}
links: [[h1, sw1.p1], [hv1, sw1.p2], [hv2, sw1.p3]]
captures: {points: [h1]}
scenario:
  - ping: {from: vm1, to: h1, count: 4, interval: 1ms, size: 0}
  - ping: {from: h1, to: vm1, count: 2, interval: 1ms, size: 1472}
  - ping: {from: h1, to: vm1, count: 2, interval: 1ms, size: 333}
  - arping: {from: hv1, to: h1, count: 2, interval: 1ms}
  - udp: {from: h1, to: vm1, port: 7, count: 3, size: 1, interval: 1ms}
  - udp: {from: h1, to: vm1, port: 7, count: 3, size: 1001, interval: 1ms}
  - udp: {from: h1, to: vm1, port: 9, count: 2, size: 0, interval: 1ms}
  - udp: {from: h1, to: vm1, port: 33434, size: 700}
  - at: 10ms
    link: {a: h1, up: false}
  - at: 11ms
    link: {a: h1, up: true}
  - at: 20ms
    migrate: {vm: vm1, to: hv2}
  - at: 2s
    stream: {from: h1, to: vm1, count: 50, size: 99, udp: {src_ip: 192.0.2.1, dst_ip: 192.0.2.11, sport: 50000},
             vary: [{field: udp.sport}, {field: ip.id}, {field: ip.src, start: 192.0.2.200, cycle: 5}, {field: seq}]}
"""


def tshark(path: Path) -> list[dict[str, str]]:
    done = subprocess.run(["tshark", "-n", "-r", str(path), "-o", "ip.check_checksum:TRUE", "-o",
                           "udp.check_checksum:TRUE", "-T", "fields", "-E", "separator=/t",
                           *[arg for f in FIELDS for arg in ("-e", f)]],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "LC_ALL": "C"})
    assert done.returncode == 0, done.stderr
    return [dict(zip(FIELDS, line.split("\t"))) for line in done.stdout.splitlines()]


def test_every_kind_of_guest_frame_dissects_with_good_checksums(tmp_path):
    spec = load_topology_text(ALL_KINDS, "kinds.yaml")
    net = build_network(spec, capture_dir=tmp_path)
    ScenarioRunner(spec, net).run()
    net.close()
    rows = tshark(tmp_path / "all.pcapng")
    assert rows and not [r["frame.number"] for r in rows if r["_ws.malformed"]]
    for field in ("ip.checksum.status", "icmp.checksum.status", "udp.checksum.status"):
        statuses = {v for r in rows for v in r[field].split(",") if v}
        assert statuses <= {"1", "2"} and "1" in statuses, (field, statuses)  # 2: a quote too short to verify
    kinds = {(r["eth.type"], r["arp.opcode"], r["icmp.type"]) for r in rows}
    assert {("0x8035", "3", ""), ("0x0806", "1", ""), ("0x0806", "2", ""), ("0x0800", "", "8"),
            ("0x0800", "", "0"), ("0x0800", "", "3")} <= kinds


def test_committed_guest_captures_have_good_icmp_checksums():
    """test_tshark.py checks IP and UDP checksums of every committed capture; ICMP's are checked here."""
    folders = [p for p in sorted((ROOT / "pcaps").glob("*")) if p.name.startswith(("guests-", "migration-", "replay-"))]
    assert folders
    for folder in folders:
        rows = tshark(folder / "all.pcapng")
        statuses = Counter(r["icmp.checksum.status"] for r in rows if r["icmp.type"])
        assert set(statuses) == {"1"}, (folder.name, statuses)  # every example pings or is answered with ICMP
