"""Wireshark's dissectors read every committed capture: no read error, nothing malformed, no bad checksum;
the pcapng names its interfaces after the topology's capture points and comments on every frame."""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from scapy.layers.l2 import Ether  # noqa: F401 - binds linktype 1 for rdpcap
from scapy.utils import rdpcap

from vswitch.topology.build import build_network
from vswitch.topology.loader import load_topology

pytestmark = pytest.mark.vswitch_tshark  # the plugin's marker: skipped where tshark is not installed

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGIES = sorted((ROOT / "topologies").glob("*.yaml"))
PCAPS = ROOT / "pcaps"
REGEN = "python -m vswitch.regen"
# One pass per file: 0 is "Bad" in Wireshark's ip/udp.checksum.status enum (1 Good, 2 Unverified, 3 Not present).
FIELDS = ("frame.number", "_ws.malformed", "ip.checksum.status", "udp.checksum.status", "icmpv6.checksum.status",
          "frame.interface_name", "frame.packet_flags_direction", "frame.comment")
CHECKSUMS = ("ip.checksum.status", "udp.checksum.status", "icmpv6.checksum.status")
TSHARK = ["tshark", "-n", "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-T", "fields",
          "-E", "separator=/t", "-E", "quote=n", *[arg for field in FIELDS for arg in ("-e", field)]]
IGNORED_STDERR = ('Running as user "root"',)
#: Topologies whose links flip bits (``corrupt``): their captures hold bad checksums on purpose.
CORRUPTING = {spec.name for spec in map(load_topology, TOPOLOGIES)
              if any(ln.a_to_b.corrupt or ln.b_to_a.corrupt for ln in spec.links)}


def capture_files() -> list[Path]:
    if not PCAPS.is_dir():
        return []
    return sorted(p for p in PCAPS.rglob("*") if p.is_file() and p.suffix in (".pcap", ".pcapng"))


def tshark(path: Path) -> tuple[int, list[str], list[dict[str, str]]]:
    done = subprocess.run([*TSHARK, "-r", str(path)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "LC_ALL": "C"})
    stderr = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith(IGNORED_STDERR)]
    rows = [dict(zip(FIELDS, line.split("\t"))) for line in done.stdout.splitlines()]
    return done.returncode, stderr, rows


@pytest.fixture(scope="module")
def dissected() -> dict[Path, tuple[int, list[str], list[dict[str, str]]]]:
    """tshark's rows for every committed capture, read in parallel."""
    files = capture_files()
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return dict(zip(files, pool.map(tshark, files)))


def test_there_are_committed_captures():
    assert capture_files(), f"pcaps/ holds no captures: run `{REGEN}` from the repository root"


@pytest.mark.parametrize("path", capture_files(), ids=lambda p: p.relative_to(PCAPS).as_posix())
def test_tshark_dissects_without_errors_malformed_frames_or_bad_checksums(dissected, path):
    status, stderr, rows = dissected[path]
    assert (status, stderr) == (0, []), f"tshark -r {path}"
    assert rows, f"{path.name} holds no frames"
    assert [r["frame.number"] for r in rows] == [str(n) for n in range(1, len(rows) + 1)]
    malformed = [r["frame.number"] for r in rows if r["_ws.malformed"]]
    assert not malformed, f"{path.name}: frames {malformed} are malformed"
    if path.parent.name in CORRUPTING:  # bits flipped on purpose: test_corrupted_frames_have_bad_checksums
        return
    for field in CHECKSUMS:  # Wireshark always verifies ICMPv6's
        bad = [r["frame.number"] for r in rows if "0" in r[field].split(",")]
        assert not bad, f"{path.name}: frames {bad} have a bad {field.split('.')[0]} checksum"
        assert {v for r in rows for v in r[field].split(",") if v} <= {"1", "3"}, f"{field} not verified"


@pytest.mark.parametrize("name", sorted(CORRUPTING))
def test_corrupted_frames_have_bad_checksums(dissected, name):
    """A link that flips bits (``corrupt``) shows in Wireshark as bad IPv4/UDP checksums in its captures."""
    bad = [r for path, (_, _, rows) in dissected.items() if path.parent.name == name for r in rows
           if "0" in r["ip.checksum.status"].split(",") + r["udp.checksum.status"].split(",")]
    assert bad, f"{name}: no bad checksum in its captures, yet its links corrupt frames"


@pytest.mark.parametrize("field", CHECKSUMS)
def test_checksums_were_verified_at_all(dissected, field):
    """Guards the check above: with the options misspelled, every status would be empty or 2 (unverified)."""
    statuses = Counter(r[field] for _, _, rows in dissected.values() for r in rows)
    assert statuses["1"] > 0, statuses


@pytest.mark.parametrize("path", TOPOLOGIES, ids=[p.stem for p in TOPOLOGIES])
def test_pcapng_interfaces_are_the_capture_points_with_comments(dissected, path):
    spec = load_topology(path)
    if not spec.pcapng:
        pytest.skip(f"{path.name} writes no pcapng")
    folder = PCAPS / spec.name
    pcapng = folder / spec.pcapng
    if pcapng not in dissected:
        pytest.fail(f"no committed pcaps/{spec.name}/{spec.pcapng}: run `{REGEN}`", pytrace=False)
    net = build_network(spec)
    expected: Counter[str] = Counter()  # interface -> frames, from the classic pcap of each point
    for cap in spec.captures:
        classic = folder / cap.file
        assert classic in dissected, f"no committed {classic}: run `{REGEN}`"
        assert all(r["frame.interface_name"] == "" and r["frame.comment"] == "" for r in dissected[classic][2])
        expected[net.port(cap.point).full_name] += len(dissected[classic][2])
    rows = dissected[pcapng][2]
    seen = Counter(r["frame.interface_name"] for r in rows)
    assert set(seen) <= {net.port(cap.point).full_name for cap in spec.captures}
    assert seen == +expected
    uncommented = [r["frame.number"] for r in rows if not r["frame.comment"]]
    assert not uncommented, f"pcapng frames without a comment: {uncommented}"
    # Wireshark and Scapy, two independent readers, agree on each frame's interface, direction and comment.
    by_tshark = [(r["frame.interface_name"], int(r["frame.packet_flags_direction"], 16), r["frame.comment"])
                 for r in rows]
    by_scapy = [(f.sniffed_on, f.direction, f.comment.decode()) for f in rdpcap(str(pcapng))]
    assert by_tshark == by_scapy
    assert {direction for _, direction, _ in by_tshark} <= {1, 2}  # inbound, outbound


def test_example_pcapng_as_wireshark_shows_it(dissected):
    rows = dissected.get(PCAPS / "two-vms-one-adapter" / "all.pcapng")
    if rows is None:
        pytest.fail(f"no committed pcaps/two-vms-one-adapter/all.pcapng: run `{REGEN}`", pytrace=False)
    assert [(r["frame.interface_name"], r["frame.packet_flags_direction"], r["frame.comment"])
            for r in rows[2][:5]] == [
        ("vm1.eth0", "0x00000002", "#1 transmitted"),
        ("hv1.uplink", "0x00000002", "#1 sent to the uplink"),
        ("sw1.p2", "0x00000001", "#1 flooded: unknown unicast -> sw1.p1; learned 52:54:00:00:00:01 on sw1.p2"),
        ("sw1.p1", "0x00000002", "#1 flooded: unknown unicast"),
        ("h1.eth0", "0x00000001", "#1 delivered"),
    ]
