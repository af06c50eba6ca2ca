"""VXLAN ports in ``vswitch live``: a Linux ``vxlan`` device, and another ``vswitch live``, at the tunnel's far end.

Root only (CI runs as root); elsewhere skipped with the reason. Each test makes two namespaces joined by a veth
(the underlay, 10.99.0.0/24) and runs ``vswitch live`` inside them with ``ip netns exec``, so its UDP socket and
every address stay inside namespaces the test made and removes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import vswitch
from conftest import require_netns
from test_live import _start
from vswitch.live.devices import STATE_DIR

pytestmark = [pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                                 reason="vswitch live needs root and iproute2"),
              pytest.mark.skipif(shutil.which("ping") is None, reason="the real stacks' pings need ping (iputils-ping)")]
TAG = f"x{os.getpid() % 100000}"
EAST, WEST = f"{TAG}east", f"{TAG}west"  # the underlay's two sides: 10.99.0.1 and 10.99.0.2
RED = f"{TAG}red"  # a station vswitch live attaches

SIDE = """
name: {name}
switches:
  - name: sw1
    ports:
      p9: {{vxlan: {{local: {local}, remote: {remote}, vni: 42}}}}
hosts: [{{name: {name}, mac: "{mac}", ip: {ip}/24}}]
links: [[{name}, sw1]]
"""
PING = """
scenario:
  - {{at: 1s, ping: {{from: {name}, to: {to}, count: 3, interval: 200ms, name: across}}}}
expect:
  - ping: {{name: across, received: 3}}
"""


@pytest.fixture(scope="module", autouse=True)
def _netns_usable() -> None:
    require_netns("vslx")


@pytest.fixture
def underlay():
    """Namespaces EAST (10.99.0.1) and WEST (10.99.0.2) joined by a veth; removed afterwards."""
    for ns in (EAST, WEST):
        subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        _ip(EAST, "link", "add", "u0", "type", "veth", "peer", "name", "u0", "netns", WEST)
        for ns, address in ((EAST, "10.99.0.1/24"), (WEST, "10.99.0.2/24")):
            _ip(ns, "addr", "add", address, "dev", "u0")
            _ip(ns, "link", "set", "u0", "up")
            _ip(ns, "link", "set", "lo", "up")
        yield
    finally:
        for ns in (EAST, WEST):
            subprocess.run(["ip", "netns", "del", ns])


def _ip(netns: str, *args: str) -> None:
    subprocess.run(["ip", "-n", netns, *args], check=True, capture_output=True)


def _live_in(netns: str, folder: Path, text: str, *args: str) -> subprocess.Popen:
    """``vswitch live`` on ``text`` inside ``netns`` (``ip netns exec``), in ``folder``; returns once it says it is
    running. Namespaces it would make for ``attach:`` would be mounted in ``ip netns exec``'s own mount namespace,
    out of the test's reach: such tests give the tunnel a ``netns`` instead."""
    folder.mkdir()
    return _start(folder, text, *args, netns=netns)


def _linux_vxlan() -> None:
    """Linux's VTEP in WEST: vxlan0 (VNI 42, UDP 4789, 02:00:00:00:00:50, 192.0.2.50) towards 10.99.0.1."""
    made = subprocess.run(["ip", "-n", WEST, "link", "add", "vxlan0", "type", "vxlan", "id", "42", "dstport", "4789",
                           "remote", "10.99.0.1", "local", "10.99.0.2", "dev", "u0"], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"this kernel makes no vxlan device: {made.stderr.strip()}")
    _ip(WEST, "link", "set", "vxlan0", "address", "02:00:00:00:00:50")
    _ip(WEST, "addr", "add", "192.0.2.50/24", "dev", "vxlan0")
    _ip(WEST, "link", "set", "vxlan0", "up")


def test_a_linux_vxlan_device_and_the_stations_behind_the_vxlan_port_ping_each_other(tmp_path, underlay) -> None:
    """vswitch runs here; its tunnel's socket is bound in EAST (``netns``), its station red is a real stack in a
    namespace it makes, and vm1 is vswitch's own stack behind the emulated adapter."""
    _linux_vxlan()
    child = _start(tmp_path, f"""
name: vx-linux
switches:
  - name: sw1
    ports:
      p9: {{vxlan: {{local: 10.99.0.1, remote: 10.99.0.2, vni: 42, netns: {EAST}}}}}
hosts: [{{name: red, mac: "02:00:00:00:00:01", ip: 192.0.2.1/24, attach: {{netns: {RED}}}}}]
hypervisors:
  - {{name: hv1, mac: "02:00:00:00:01:00", vms: [{{name: vm1, mac: "52:54:00:00:00:10", ip: 192.0.2.10/24}}]}}
links: [[red, sw1], [hv1, sw1]]
""" + PING.format(name="vm1", to="192.0.2.50"), "--duration", "5s")
    pings = [subprocess.run(["ip", "netns", "exec", netns, "ping", "-c", "2", "-i", "0.2", "-W", "2", to],
                            capture_output=True, text=True, timeout=30)
             for netns, to in ((WEST, "192.0.2.1"), (RED, "192.0.2.50"))]
    out, err = (text.decode() for text in child.communicate(timeout=60))
    for ping in pings:  # Linux's stack behind its vxlan device and red's real stack answer each other
        assert ping.returncode == 0, ping.stdout + ping.stderr
    assert child.returncode == 0, out + err  # and vm1's pings of the Linux side were answered
    assert "PASS      ping across 3 received" in out
    assert "02:00:00:00:00:50 at 10.99.0.2" in out  # the remote VTEP learned per MAC (VXLAN tunnels)
    fdb = subprocess.run(["bridge", "-n", WEST, "fdb", "show", "dev", "vxlan0"], capture_output=True, text=True)
    assert "02:00:00:00:00:01 dst 10.99.0.1" in fdb.stdout, fdb.stdout  # and Linux learned red behind vswitch
    assert RED not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout  # torn down
    assert not (STATE_DIR / f"{child.pid}.json").exists()


def test_two_vswitch_live_processes_joined_by_vxlan_carry_a_ping(tmp_path, underlay) -> None:
    east = SIDE.format(name="h1", local="10.99.0.1", remote="10.99.0.2", mac="02:00:00:00:00:01", ip="192.0.2.1")
    west = SIDE.format(name="h2", local="10.99.0.2", remote="10.99.0.1", mac="02:00:00:00:00:02", ip="192.0.2.2")
    far = _live_in(WEST, tmp_path / "west", west)  # until Ctrl-C: however long the near side takes to start
    try:
        near = _live_in(EAST, tmp_path / "east", east + PING.format(name="h1", to="192.0.2.2"), "--duration", "3s")
        out, err = (text.decode() for text in near.communicate(timeout=60))
    finally:
        far.send_signal(signal.SIGINT)
        far_out, far_err = (text.decode() for text in far.communicate(timeout=60))
    assert near.returncode == 0 and "PASS      ping across 3 received" in out, out + err
    assert far.returncode == 0, far_out + far_err
    assert "02:00:00:00:00:01  p9" in far_out  # h1 learned on the far switch's VXLAN port
    assert "02:00:00:00:00:01 at 10.99.0.1" in far_out and "02:00:00:00:00:02 at 10.99.0.2" in out


def test_a_local_address_the_namespace_lacks_is_refused_with_the_place(tmp_path, underlay) -> None:
    text = SIDE.format(name="h1", local="10.99.0.7", remote="10.99.0.2", mac="02:00:00:00:00:01", ip="192.0.2.1")
    (tmp_path / "lab.yaml").write_text(text)
    env = {**os.environ, "PYTHONPATH": str(Path(vswitch.__file__).resolve().parent.parent)}
    done = subprocess.run(["ip", "netns", "exec", EAST, sys.executable, "-m", "vswitch", "live", "lab.yaml",
                           "--duration", "1s"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("vswitch: lab.yaml:6:19: switches[0].ports.p9.vxlan: cannot listen on 10.99.0.7 "
                                  "port 4789: Cannot assign requested address"), done.stderr


def test_a_tunnel_namespace_that_does_not_exist_is_refused_and_nothing_is_made(tmp_path) -> None:
    text = SIDE.format(name="h1", local="10.99.0.1", remote="10.99.0.2", mac="02:00:00:00:00:01", ip="192.0.2.1")
    (tmp_path / "lab.yaml").write_text(text.replace("vni: 42", f"vni: 42, netns: {TAG}none"))
    env = {**os.environ, "PYTHONPATH": str(Path(vswitch.__file__).resolve().parent.parent)}
    done = subprocess.run([sys.executable, "-m", "vswitch", "live", "lab.yaml", "--duration", "1s"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr == (
        f"vswitch: lab.yaml:6:19: switches[0].ports.p9.vxlan: network namespace '{TAG}none' does not exist: the "
        f"tunnel's socket is bound in a namespace you made (ip netns add {TAG}none, with 10.99.0.1 on one of its "
        "interfaces)\n"), done.stderr


@pytest.mark.skipif(shutil.which("tcpdump") is None or shutil.which("tshark") is None,
                    reason="capturing the underlay needs tcpdump and tshark")
def test_the_datagrams_on_the_underlay_dissect_cleanly_both_ways(tmp_path, underlay) -> None:
    """What vswitch sends and what Linux's vxlan sends back, as Wireshark reads them off the veth between them."""
    _linux_vxlan()
    capture = tmp_path / "underlay.pcap"
    tcpdump = subprocess.Popen(["ip", "netns", "exec", EAST, "tcpdump", "-i", "u0", "-U", "-w", str(capture), "udp"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while b"listening on" not in tcpdump.stderr.readline():
            assert tcpdump.poll() is None, "tcpdump did not start"
        text = SIDE.format(name="h1", local="10.99.0.1", remote="10.99.0.2", mac="02:00:00:00:00:01", ip="192.0.2.1")
        child = _start(tmp_path, text.replace("vni: 42", f"vni: 42, netns: {EAST}"), "--duration", "3s")
        ping = subprocess.run(["ip", "netns", "exec", WEST, "ping", "-c", "2", "-i", "0.2", "-W", "2", "192.0.2.1"],
                              capture_output=True, text=True, timeout=30)
        child.communicate(timeout=60)
    finally:
        tcpdump.send_signal(signal.SIGINT)
        tcpdump.communicate(timeout=30)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    fields = ("_ws.malformed", "ip.src", "udp.dstport", "vxlan.vni", "eth.src", "icmp.type")
    done = subprocess.run(["tshark", "-n", "-r", str(capture), "-T", "fields", "-E", "separator=/t",
                           *[arg for f in fields for arg in ("-e", f)]], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LC_ALL": "C"})
    rows = [dict(zip(fields, line.split("\t"))) for line in done.stdout.splitlines()]
    assert rows and all(r["_ws.malformed"] == "" and r["udp.dstport"] == "4789" and r["vxlan.vni"] == "42"
                        for r in rows), done.stdout
    icmp = {(r["ip.src"].split(",")[0], r["eth.src"].split(",")[1], r["icmp.type"]) for r in rows if r["icmp.type"]}
    assert {("10.99.0.2", "02:00:00:00:00:50", "8"), ("10.99.0.1", "02:00:00:00:00:01", "0")} <= icmp, icmp
