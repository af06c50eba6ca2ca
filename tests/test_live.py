"""``vswitch live``: real Linux stacks in namespaces that the run creates, on the emulated switch and adapter.

Root only (CI runs as root); elsewhere skipped with the reason. Traffic stays inside the namespaces the run
makes, and each test's namespaces carry the test process's id, so parallel runs do not meet.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import vswitch
from conftest import require_netns
from vswitch.live.devices import STATE_DIR

pytestmark = [pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                                 reason="vswitch live needs root and iproute2"),
              pytest.mark.skipif(shutil.which("ping") is None, reason="the real stacks' pings need ping (iputils-ping)")]
TAG = f"t{os.getpid() % 100000}"
RED, BLUE = f"{TAG}red", f"{TAG}blue"

TOPOLOGY = f"""
name: live-test
switches: [{{name: sw1}}]
hosts:
  - {{name: red, mac: "02:00:00:00:00:01", ip: 192.0.2.1/24, attach: {{netns: {RED}}}}}
  - {{name: blue, mac: "02:00:00:00:00:02", ip: 192.0.2.2/24, attach: {{netns: {BLUE}}}}}
hypervisors:
  - {{name: hv1, mac: "02:00:00:00:01:00", vms: [{{name: vm1, mac: "52:54:00:00:00:10", ip: 192.0.2.10/24}}]}}
links: [[red, sw1], [blue, sw1], [hv1, sw1]]
captures: {{points: [red, blue, vm1]}}
"""
PINGS = """
scenario:
  - {at: 1s, ping: {from: vm1, to: 192.0.2.1, count: 2, interval: 200ms, name: vm1-to-red}}
expect:
  - ping: {name: vm1-to-red, received: 2}
"""


@pytest.fixture(scope="module", autouse=True)
def _netns_usable() -> None:
    require_netns("vslt")


def _namespaces() -> set[str]:
    return {line.split()[0] for line in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                                       text=True).stdout.splitlines() if line.strip()}


def _start(tmp_path: Path, text: str, *args: str) -> subprocess.Popen:
    """``vswitch live`` on ``text`` in a child process; returns once it says it is running."""
    (tmp_path / "lab.yaml").write_text(text)
    env = {**os.environ, "PYTHONPATH": str(Path(vswitch.__file__).resolve().parent.parent)}
    child = subprocess.Popen([sys.executable, "-m", "vswitch", "live", "lab.yaml", "--out", "out", *args],
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    said = b""
    while b"live: running" not in said:  # raw reads: a text file's buffer would hide lines from select()
        ready, _, _ = select.select([child.stderr], [], [], 60)
        chunk = os.read(child.stderr.fileno(), 4096) if ready else b""
        if not chunk:
            child.kill()
            raise AssertionError(f"vswitch live did not start: {said.decode()}{child.communicate()[1]}")
        said += chunk
    return child


def _in(netns: str, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", netns, *command], capture_output=True, text=True, timeout=30)


def test_two_real_stacks_ping_each_other_through_the_emulated_switch(tmp_path) -> None:
    child = _start(tmp_path, TOPOLOGY, "--format", "json")
    try:
        ping = _in(RED, "ping", "-c", "2", "-i", "0.2", "-W", "2", "192.0.2.2")
    finally:
        child.send_signal(signal.SIGINT)  # Ctrl-C ends the run with its report
        out, err = child.communicate(timeout=60)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert child.returncode == 0, err.decode()
    report = json.loads(out)
    table = {(row["mac"], row["port"]) for row in report["mac_tables"] if row["switch"] == "sw1"}
    assert {("02:00:00:00:00:01", "p1"), ("02:00:00:00:00:02", "p2")} <= table, report["mac_tables"]
    assert {RED, BLUE}.isdisjoint(_namespaces())  # removed at the end
    if shutil.which("tshark"):  # the real ARP and ICMP in the capture of red's NIC
        shown = subprocess.run(["tshark", "-r", str(tmp_path / "out" / "red.pcap"), "-Y", "arp or icmp", "-T",
                                "fields", "-e", "_ws.col.Protocol"], capture_output=True, text=True).stdout
        assert {"ARP", "ICMP"} <= set(shown.split()), shown


def test_a_real_stack_and_a_vswitch_vm_behind_the_adapter_ping_each_other(tmp_path) -> None:
    """A real Linux stack cannot tell vm1's vNIC from a NIC: it answers vm1, and vm1 answers it."""
    child = _start(tmp_path, TOPOLOGY + PINGS, "--duration", "4s")
    ping = _in(RED, "ping", "-c", "2", "-i", "0.2", "-W", "2", "192.0.2.10")
    out, err = (text.decode() for text in child.communicate(timeout=60))
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert child.returncode == 0, out + err  # vm1's pings of red were answered: the expectation passed
    assert "PASS      ping vm1-to-red 2 received" in out


def test_sigterm_ends_the_run_and_a_killed_run_is_cleaned_up(tmp_path) -> None:
    child = _start(tmp_path, TOPOLOGY)
    assert {RED, BLUE} <= _namespaces()
    child.send_signal(signal.SIGTERM)
    child.communicate(timeout=60)
    assert child.returncode == 0 and {RED, BLUE}.isdisjoint(_namespaces())
    child = _start(tmp_path, TOPOLOGY)
    child.kill()  # SIGKILL: no chance to clean up
    child.communicate(timeout=60)
    assert {RED, BLUE} <= _namespaces() and (STATE_DIR / f"{child.pid}.json").exists()
    env = {**os.environ, "PYTHONPATH": str(Path(vswitch.__file__).resolve().parent.parent)}
    done = subprocess.run([sys.executable, "-m", "vswitch", "live-cleanup"], capture_output=True, text=True, env=env)
    # (under xdist another test process's live-cleanup may remove this dead run first: what counts is that it goes)
    assert done.returncode == 0, done.stdout + done.stderr
    assert {RED, BLUE}.isdisjoint(_namespaces()) and not (STATE_DIR / f"{child.pid}.json").exists()
    assert not [line for line in subprocess.run(["ip", "link"], capture_output=True, text=True).stdout.splitlines()
                if f"vsl{child.pid % 100000}-" in line]


def test_a_namespace_that_exists_is_refused_and_left_alone(tmp_path) -> None:
    subprocess.run(["ip", "netns", "add", RED], check=True)
    try:
        (tmp_path / "lab.yaml").write_text(TOPOLOGY)
        env = {**os.environ, "PYTHONPATH": str(Path(vswitch.__file__).resolve().parent.parent)}
        done = subprocess.run([sys.executable, "-m", "vswitch", "live", "lab.yaml", "--duration", "1s"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and f"network namespace '{RED}' already exists" in done.stderr, done.stderr
        assert RED in _namespaces() and BLUE not in _namespaces()
    finally:
        subprocess.run(["ip", "netns", "del", RED])
