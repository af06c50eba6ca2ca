"""``vswitch live`` with ``attach: {tap: NAME}`` and ``attach: {interface: NAME}``: a VM's TAP and an existing
interface as stations, carrying pings to and from a real namespace's stack.

The test plays the VM: it opens the TAP that the run made as QEMU's ``-netdev tap,ifname=NAME`` does
(``/dev/net/tun``, ``TUNSETIFF``), and writes and reads whole frames on it. Root only; elsewhere skipped.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

import vswitch
from conftest import require_netns
from test_live import _in, _namespaces, _start
from vswitch.live.devices import STATE_DIR

pytestmark = [pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                                 reason="vswitch live needs root and iproute2"),
              pytest.mark.skipif(not Path("/dev/net/tun").exists(), reason="TAP devices need /dev/net/tun")]
TAG = f"u{os.getpid() % 100000}"
RED, TAP, VETH = f"{TAG}red", f"{TAG}tap", f"{TAG}v"
VM_MAC, VM_IP, RED_MAC, RED_IP = "52:54:00:00:00:10", "192.0.2.10", "02:00:00:00:00:01", "192.0.2.1"
TUNSETIFF, IFF_TAP, IFF_NO_PI = 0x400454CA, 0x0002, 0x1000

TOPOLOGY = f"""
name: live-tap
switches: [{{name: sw1}}]
hosts:
  - {{name: red, mac: "{RED_MAC}", ip: {RED_IP}/24, attach: {{netns: {RED}}}}}
hypervisors:
  - name: hv1
    mac: "02:00:00:00:01:00"
    vms: [{{name: vm1, mac: "{VM_MAC}", ip: {VM_IP}/24, attach: {{tap: {TAP}}}}}]
links: [[red, sw1], [hv1, sw1]]
captures: {{points: [red, vm1]}}
"""


@pytest.fixture(scope="module", autouse=True)
def _netns_usable() -> None:
    require_netns("vslu")


def _links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def open_tap(name: str) -> int:
    """The TAP ``name`` opened as QEMU opens it: whole Ethernet frames, no packet information header."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def wait_carrier(name: str) -> None:
    """Until the kernel has seen the TAP's carrier come up (an opener attached): its link watch does that up to
    a second later, and until then the TAP drops what is sent to it."""
    for _ in range(100):
        if Path("/sys/class/net", name, "operstate").read_text().strip() == "up":
            return
        select.select([], [], [], 0.05)
    raise AssertionError(f"{name}'s carrier did not come up")


def read_until(fd: int, wanted, timeout_s: float = 5.0) -> bytes:
    """The first frame read from ``fd`` for which ``wanted(Ether)`` holds (others, e.g. IPv6 noise, skipped)."""
    while True:
        ready, _, _ = select.select([fd], [], [], timeout_s)
        assert ready, "no frame came back through the emulated network"
        frame = os.read(fd, 65535)
        if wanted(Ether(frame)):
            return frame


def test_a_vm_on_a_tap_and_a_real_stack_ping_each_other_through_the_emulated_adapter(tmp_path) -> None:
    child = _start(tmp_path, TOPOLOGY, "--format", "json")
    fd = None
    try:
        assert TAP in _links()
        fd = open_tap(TAP)
        wait_carrier(TAP)
        request = bytes(Ether(src=VM_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(hwsrc=VM_MAC, psrc=VM_IP, pdst=RED_IP))
        for _ in range(5):  # as a stack retries: the TAP takes frames once the kernel has seen its carrier
            os.write(fd, request)
            try:
                reply = Ether(read_until(fd, lambda f: ARP in f and f[ARP].op == 2, timeout_s=1.0))
                break
            except AssertionError:
                continue
        else:
            raise AssertionError("red never answered the VM's ARP requests through the emulated network")
        assert (reply.src, reply[ARP].psrc) == (RED_MAC, RED_IP)  # red's real stack resolved the VM
        os.write(fd, bytes(Ether(src=VM_MAC, dst=RED_MAC) / IP(src=VM_IP, dst=RED_IP) / ICMP(id=7, seq=1) / b"vm"))
        echo = Ether(read_until(fd, lambda f: ICMP in f and f[ICMP].type == 0))
        assert (echo[IP].src, echo[ICMP].id, echo[Raw].load) == (RED_IP, 7, b"vm")
        ping = subprocess.Popen(["ip", "netns", "exec", RED, "ping", "-c", "1", "-W", "5", VM_IP],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        request = Ether(read_until(fd, lambda f: ICMP in f and f[ICMP].type == 8))  # red's ping, to the VM
        os.write(fd, bytes(Ether(src=VM_MAC, dst=request.src) / IP(src=VM_IP, dst=request[IP].src) /
                           ICMP(type=0, id=request[ICMP].id, seq=request[ICMP].seq) / request[ICMP].payload))
        assert ping.wait(timeout=30) == 0, ping.stdout.read()
    finally:
        if fd is not None:
            os.close(fd)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err.decode()
    assert TAP not in _links() and RED not in _namespaces()  # removed at the end
    if shutil.which("tshark"):  # the VM's frames, in the capture of its vNIC
        shown = subprocess.run(["tshark", "-r", str(tmp_path / "out" / "vm1.pcap"), "-Y", "icmp", "-T", "fields",
                                "-e", "ip.src"], capture_output=True, text=True).stdout.split()
        assert VM_IP in shown and RED_IP in shown, shown


def test_the_pcapng_says_its_timestamps_are_the_wall_clock(tmp_path) -> None:
    child = _start(tmp_path, TOPOLOGY, "--duration", "1s")
    child.communicate(timeout=60)
    assert child.returncode == 0
    pcapng = next((tmp_path / "out").glob("*.pcapng"))
    head = pcapng.read_bytes()[:512]
    assert b"timestamps are the wall clock (UTC)" in head  # the section header block's comment
    if shutil.which("capinfos"):  # Wireshark reads it as the file's comment
        shown = subprocess.run(["capinfos", str(pcapng)], capture_output=True, text=True).stdout
        assert "written by vswitch live: timestamps are the wall clock" in shown, shown


def test_a_killed_run_leaves_its_tap_to_live_cleanup_and_nothing_else(tmp_path) -> None:
    child = _start(tmp_path, TOPOLOGY)
    child.kill()  # SIGKILL: a persistent TAP outlives the process that made it
    child.communicate(timeout=60)
    assert TAP in _links() and RED in _namespaces()
    env = {**os.environ, "PYTHONPATH": str(Path(vswitch.__file__).resolve().parent.parent)}
    done = subprocess.run([sys.executable, "-m", "vswitch", "live-cleanup"], capture_output=True, text=True, env=env)
    # (another test process's live-cleanup, under xdist, may have removed it first: what counts is that it is gone)
    assert done.returncode == 0 and (f"removed tap {TAP}" in done.stdout or not (STATE_DIR / f"{child.pid}.json")
                                     .exists()), done.stdout + done.stderr
    assert TAP not in _links() and RED not in _namespaces() and not (STATE_DIR / f"{child.pid}.json").exists()


def test_cleanup_leaves_a_tap_of_the_same_name_that_the_user_made_since(tmp_path) -> None:
    child = _start(tmp_path, TOPOLOGY)
    child.kill()
    child.communicate(timeout=60)
    subprocess.run(["ip", "link", "del", TAP])  # (or another test process's live-cleanup did)
    subprocess.run(["ip", "tuntap", "add", "dev", TAP, "mode", "tap"], check=True)  # the user's own, since
    try:
        env = {**os.environ, "PYTHONPATH": str(Path(vswitch.__file__).resolve().parent.parent)}
        subprocess.run([sys.executable, "-m", "vswitch", "live-cleanup"], capture_output=True, env=env, check=True)
        assert TAP in _links() and RED not in _namespaces()
    finally:
        subprocess.run(["ip", "link", "del", TAP])


def test_an_existing_link_is_refused_as_a_tap_and_left_alone(tmp_path) -> None:
    subprocess.run(["ip", "tuntap", "add", "dev", TAP, "mode", "tap"], check=True)  # the user's own
    try:
        (tmp_path / "lab.yaml").write_text(TOPOLOGY)
        env = {**os.environ, "PYTHONPATH": str(Path(vswitch.__file__).resolve().parent.parent)}
        done = subprocess.run([sys.executable, "-m", "vswitch", "live", "lab.yaml", "--duration", "1s"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert f"an interface named '{TAP}' already exists: vswitch live makes its own TAP" in done.stderr
        assert TAP in _links() and RED not in _namespaces()
    finally:
        subprocess.run(["ip", "link", "del", TAP])


INTERFACE_TOPOLOGY = TOPOLOGY.replace(f"attach: {{tap: {TAP}}}", f"attach: {{interface: {VETH}}}")


def test_an_existing_interface_carries_a_ping_and_is_not_deleted(tmp_path) -> None:
    """One end of a veth the user made is vm1; the other end, in a namespace the test made, is a real stack."""
    peer_ns = f"{TAG}vm"
    subprocess.run(["ip", "netns", "add", peer_ns], check=True)
    try:
        subprocess.run(["ip", "link", "add", VETH, "type", "veth", "peer", "name", "eth0", "netns", peer_ns],
                       check=True)
        for command in (["link", "set", "eth0", "address", VM_MAC], ["addr", "add", f"{VM_IP}/24", "dev", "eth0"],
                        ["link", "set", "eth0", "up"]):
            subprocess.run(["ip", "-n", peer_ns, *command], check=True)
        subprocess.run(["ip", "link", "set", VETH, "up"], check=True)
        child = _start(tmp_path, INTERFACE_TOPOLOGY, "--duration", "6s")
        ping = _in(RED, "ping", "-c", "2", "-i", "0.2", "-W", "3", VM_IP)
        out, err = child.communicate(timeout=60)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert child.returncode == 0, err.decode()
        assert VETH in _links()  # the user's: never deleted
    finally:
        subprocess.run(["ip", "link", "del", VETH])
        subprocess.run(["ip", "netns", "del", peer_ns])


def test_an_interface_that_does_not_exist_is_refused_clearly(tmp_path) -> None:
    (tmp_path / "lab.yaml").write_text(INTERFACE_TOPOLOGY)
    env = {**os.environ, "PYTHONPATH": str(Path(vswitch.__file__).resolve().parent.parent)}
    done = subprocess.run([sys.executable, "-m", "vswitch", "live", "lab.yaml", "--duration", "1s"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"vswitch: interface '{VETH}' does not exist: attach: {{interface: NAME}} takes "
                                   f"one that exists (ip link show); for a TAP that vswitch live makes, write tap: "
                                   f"{VETH}")
    assert RED not in _namespaces()


QEMU_INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
for m in $(cat /modules); do insmod /lib/modules/$m; done
ip link set lo up
ip link set eth0 up
ip addr add {ip}/24 dev eth0
i=0
until ping -c 1 -W 1 {host} > /dev/null; do i=$((i+1)); [ $i -lt 20 ] || break; done
echo LIVE-START
ping -c 3 -i 0.2 -W 2 {host}
echo LIVE-DONE
poweroff -f
"""
QEMU_TOPOLOGY = f"""
name: live-qemu
switches: [{{name: sw1}}]
hosts: [{{name: h1, mac: "02:00:00:00:00:01", ip: 192.0.2.1/24}}]
hypervisors:
  - name: hv1
    mac: "02:00:00:00:01:00"
    vms: [{{name: vm1, mac: "{VM_MAC}", ip: {VM_IP}/24, attach: {{tap: {TAP}}}}}]
links: [[h1, sw1], [hv1, sw1]]
captures: {{points: [h1]}}
"""


def test_a_real_busybox_vm_on_a_tap_pings_a_host_of_the_emulated_lan(tmp_path) -> None:
    """Linux in QEMU (TCG), its e1000 on the TAP: it resolves and pings h1, vswitch's own stack behind the
    emulated switch, through vm1's vNIC on the emulated adapter."""
    from vswitch.iocheck.guest import IoCheckError, build_initramfs, find_image

    qemu = shutil.which("qemu-system-x86_64")
    if qemu is None:
        pytest.skip("no qemu-system-x86_64 (apt-get install qemu-system-x86)")
    try:
        image = find_image()
    except IoCheckError as exc:
        pytest.skip(str(exc))
    initrd = tmp_path / "initrd.gz"
    initrd.write_bytes(build_initramfs(image, "e1000", QEMU_INIT.format(ip=VM_IP, host="192.0.2.1")))
    child = _start(tmp_path, QEMU_TOPOLOGY, "--format", "json")
    try:
        guest = subprocess.run(
            [qemu, "-accel", "tcg", "-m", "256", "-nographic", "-vga", "none", "-no-reboot",
             "-kernel", str(image.kernel), "-initrd", str(initrd),
             "-append", "console=ttyS0 quiet panic=-1 no_timer_check",
             "-netdev", f"tap,id=n0,ifname={TAP},script=no,downscript=no,vnet_hdr=off",
             "-device", f"e1000,netdev=n0,mac={VM_MAC},romfile="],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace", timeout=120)
    finally:
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    console = guest.stdout.split("LIVE-START")[-1]
    assert "LIVE-DONE" in console and "3 packets received" in console, guest.stdout[-2000:]
    assert child.returncode == 0, err.decode()
    report = json.loads(out)
    table = {(row["mac"], row["port"]) for row in report["mac_tables"] if row["switch"] == "sw1"}
    assert (VM_MAC, "p2") in table, report["mac_tables"]  # learned behind the adapter's uplink


def test_an_interface_that_is_down_is_refused_clearly(tmp_path) -> None:
    subprocess.run(["ip", "tuntap", "add", "dev", VETH, "mode", "tap"], check=True)  # down until set up
    try:
        (tmp_path / "lab.yaml").write_text(INTERFACE_TOPOLOGY)
        env = {**os.environ, "PYTHONPATH": str(Path(vswitch.__file__).resolve().parent.parent)}
        done = subprocess.run([sys.executable, "-m", "vswitch", "live", "lab.yaml", "--duration", "1s"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stderr.strip()) == (2, f"vswitch: interface '{VETH}' is down: it would carry "
                                                             f"nothing; bring it up first (ip link set {VETH} up)")
        assert VETH in _links() and RED not in _namespaces()
    finally:
        subprocess.run(["ip", "link", "del", VETH])
