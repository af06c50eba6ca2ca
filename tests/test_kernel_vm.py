"""kernel-check in a QEMU virtual machine (vswitch/kernel/vm.py): when this machine's kernel cannot build a file's
VLANs, the check runs in a VM booted from /boot's Debian kernel, which has them (issue 18 item 6).

The decision (``--vm auto|always|never``) is tested without a VM; one check of host VLAN interfaces runs in the VM
where root, QEMU, a Debian kernel with its modules and a static busybox are there (25 to 95 s under TCG
here, as loaded as the machine is).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vswitch import cli
from vswitch.kernel import command as kernel_check
from vswitch.kernel import features, vm
from vswitch.kernel.compare import KernelCheckError
from vswitch.topology.loader import load_topology_text

#: Item 6's behaviours on the smallest topology that shows them: h1 in VLAN 10, h3 in VLAN 30, hv1 with eth0.10
#: (hv1.10), vm1 on eth0.10 and vm2 on eth0 itself, behind a trunk of VLANs 10 and 30.
HOST_VLANS = """
name: vm-host-vlans
switches:
  - name: sw1
    vlan_filtering: true
    ports:
      p1: {pvid: 10}
      p2: {pvid: 1, vlans: [10, 30]}
      p3: {pvid: 30}
hosts:
  - {name: h1, mac: "02:00:00:00:00:01"}
  - {name: h3, mac: "02:00:00:00:00:03"}
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    vlans: [{vid: 10}]
    vms:
      - {name: vm1, mac: "52:54:00:00:10:01", on: hv1.10}
      - {name: vm2, mac: "52:54:00:00:00:01"}
links: [[h1, sw1.p1], [hv1, sw1.p2], [h3, sw1.p3]]
scenario:
  - send: {from: h1, to: vm1, name: to-vm1}
  - send: {from: h1, dst: broadcast, name: vlan10-broadcast}
  - send: {from: h1, dst: "52:54:00:00:99:99", name: tagged-miss}
  - send: {from: h3, dst: broadcast, name: no-interface}
  - {at: 1ms, interface: {name: hv1.10, promiscuous: true}}
  - {at: 1ms, interface: {name: hv1.host, promiscuous: true}}
  - {at: 2ms, send: {from: h1, dst: "52:54:00:00:99:99", name: tagged-miss-seen}}
  - {at: 2ms, send: {from: h3, dst: broadcast, name: no-interface-seen}}
  - {at: 3ms, interface: {name: hv1.10, up: false}}
  - {at: 4ms, send: {from: h1, dst: broadcast, name: vlan10-down}}
  - {at: 5ms, interface: {name: hv1.10, up: true}}
  - {at: 6ms, send: {from: h1, dst: broadcast, name: vlan10-up-again}}
"""
#: Who accepts each frame, in the kernel as in vswitch: the tagged broadcast reaches eth0.10's stack and the vNIC
#: on it; the unicast nobody owns reaches eth0.10's stack as PACKET_OTHERHOST, which drops it (so nobody); VLAN
#: 30, which hv1 has no interface for, reaches hv1's stack as PACKET_OTHERHOST too (dropped), while macvlan hands
#: the broadcast to the vNIC on eth0 itself, tag or not. Promiscuous, eth0.10 and eth0 take those two (a packet
#: socket sees PACKET_OTHERHOST): this shows where each went. With eth0.10 down, VLAN 10 reaches nobody (the lab
#: sets the VLAN device down); up again, it reaches eth0.10 and vm1 again.
RECEIVERS = {"to-vm1": "vm1.eth0", "vlan10-broadcast": "hv1.10, vm1.eth0", "tagged-miss": "-",
             "no-interface": "vm2.eth0", "tagged-miss-seen": "hv1.10", "no-interface-seen": "hv1.host, vm2.eth0",
             "vlan10-down": "-", "vlan10-up-again": "hv1.10, vm1.eth0"}


def _vm_missing() -> str:
    if os.geteuid() != 0:
        return "kernel-check's VM boots a kernel from /boot and builds namespaces: needs root"
    return vm.unavailable()


def _spec():
    return load_topology_text(HOST_VLANS, "vm-host-vlans.yaml")


@pytest.fixture
def kernel_without_vlans(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine's kernel answers that it has no VLAN feature at all (as the 6.18 kernel here does)."""
    monkeypatch.setattr(features, "vlan_support", lambda: {f: f"this kernel has no {f} (tried)" for f in
                                                               features.FEATURES})


def test_auto_runs_in_the_vm_when_the_kernel_lacks_a_vlan_feature(kernel_without_vlans: None,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vm, "unavailable", lambda: "")
    why = kernel_check._vm_reason(_spec(), "auto")
    assert why.startswith("because this machine's kernel cannot build it (switch sw1: vlan_filtering 802.1Q: this kernel "
                          "has no bridge VLAN filtering")
    assert kernel_check._vm_reason(_spec(), "never") == ""  # never: refused here, with the kernel's reason
    assert kernel_check._vm_reason(_spec(), "always") == "as --vm always asks"


def test_auto_without_a_vm_refuses_with_both_reasons(kernel_without_vlans: None,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vm, "unavailable", lambda: "kernel-check's VM needs qemu-system-x86_64: apt-get install x")
    with pytest.raises(KernelCheckError, match=r"^vm-host-vlans: the kernel cannot express this topology: switch "
                                               r"sw1: .*; nor can kernel-check run it in a VM here: kernel-check's VM "
                                               r"needs qemu-system-x86_64"):
        kernel_check._vm_reason(_spec(), "auto")


def test_auto_stays_here_for_a_file_without_vlans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(features, "vlan_support", lambda: pytest.fail("a file without VLANs needs no probe"))
    spec = load_topology_text("name: plain\nhosts: [{name: h1, mac: '02:00:00:00:00:01'}]\n")
    assert kernel_check._vm_reason(spec, "auto") == ""


def test_without_qemu_the_vm_is_unavailable_with_the_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert vm.unavailable() == "kernel-check's VM needs qemu-system-x86_64: apt-get install qemu-system-x86"


@pytest.mark.skipif(bool(_vm_missing()), reason=_vm_missing() or "-")
def test_host_vlan_interfaces_agree_with_the_kernel_in_the_vm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "vm-host-vlans.yaml").write_text(HOST_VLANS)
    monkeypatch.chdir(tmp_path)  # the VM runs the command from the same folder, with the same relative path
    assert cli.main(["kernel-check", "vm-host-vlans.yaml", "--vm", "always", "--prefix", "vskt"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("kernel-check ran in a QEMU (TCG) virtual machine with /boot/vmlinuz-")
    rows = {cells[0]: cells[2:] for cells in (re.split(r"\s{2,}", line.strip()) for line in out.splitlines())
            if cells[0] in RECEIVERS}  # frame -> [kernel, vswitch, result]
    assert rows == {name: [receivers, receivers, "agree"] for name, receivers in RECEIVERS.items()}
    assert "8 frames: 8 agree" in out and "=> AGREE" in out


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.skipif(bool(_vm_missing()), reason=_vm_missing() or "-")
def test_a_terminated_check_kills_its_vm_and_removes_its_folder(tmp_path: Path) -> None:
    (tmp_path / "vm-host-vlans.yaml").write_text(HOST_VLANS)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "TMPDIR": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-m", "vswitch", "kernel-check", "vm-host-vlans.yaml", "--vm", "always",
                                "--prefix", "vskt"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(Path(f"/proc/{c}/exe").resolve().name.startswith("qemu") for c in _children(process.pid)):
            assert process.poll() is None and time.monotonic() < deadline, "the VM never started"
            time.sleep(0.2)
        [qemu] = _children(process.pid)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert (process.returncode, out, err) == (130, "", "vswitch: interrupted\n")
    assert not Path(f"/proc/{qemu}").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["vm-host-vlans.yaml"]  # the VM's folder is gone


def test_a_file_the_vm_cannot_see_is_refused_before_it_boots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vm, "run_in_vm", lambda argv: pytest.fail("the VM must not boot"))
    args = argparse.Namespace(file="/run/lab.yaml", prefix="vsk", max_frames=10, settle=0.02, max_wait=5.0)
    with pytest.raises(KernelCheckError, match=r"^/run/lab.yaml: kernel-check's VM cannot see the file, /run/lab.yaml: "
                                               r"the VM has a /run of its own; copy the file elsewhere"):
        vm.check_in_vm(args, "as --vm always asks")
