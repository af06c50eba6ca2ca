"""``vswitch kernel-check`` of a file whose switches run STP (docs/stp.md): Linux bridges with ``stp_state 1`` on
the same topology, in namespaces, compared with vswitch after convergence.

The kernel's STP runs on the wall clock, so this check runs in real time: the bridges are built down, with the
file's priorities, timers, bridge and port addresses, port numbers (ports enslaved in vswitch's port order),
port priorities and path costs; they are brought up together (time 0), the file's ``link`` actions are replayed
at their times, and at the file's ``until`` both sides are compared: each bridge's root and root port, each
port's state and role, and on every cable between two bridges the last configuration BPDU each end sent (root,
root path cost, bridge ID, port ID, max age, hello time, forward delay; not the message age or the TC/TCA flags,
which depend on timing). Frames the file sends are not compared here.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Iterable

from tabulate import tabulate

from ..core.units import format_duration
from ..l2.bpdu import ConfigBpdu, bridge_id_str, parse
from ..l2.port import Port
from ..l2.stp_port import STATE_NAMES
from ..l2.switch import LearningSwitch
from ..net.capture import CallbackTap
from ..net.network import Network
from ..net.spanning import bridge_mac, spanning_trees
from ..realtime import now_s, sleep_until
from ..scenario.runner import ScenarioRunner
from ..topology.build import build_network
from ..topology.scenario_reader import LinkAction
from ..topology.spec import TopologySpec
from .compare import KernelCheckError, require_kernel_lab
from .lab import KernelLab
from .netns import in_netns, run_command

AGREE, DIFFER, NOT_CHECKED = "agree", "DIFFER", "not checked"
BPDU_FIELDS = ("root", "root_path_cost", "bridge_id", "port_id", "max_age", "hello_time", "forward_delay")
ETH_P_ALL = 0x0003


def has_stp(spec: TopologySpec) -> bool:
    return any(sw.stp is not None for sw in spec.switches)


@dataclass
class StpRow:
    what: str
    kernel: str
    vswitch: str
    verdict: str = ""

    def __post_init__(self) -> None:
        self.verdict = self.verdict or (AGREE if self.kernel == self.vswitch else DIFFER)


@dataclass
class StpReport:
    topology: str
    rows: list[StpRow]
    not_checked: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def agrees(self) -> bool:
        return all(row.verdict != DIFFER for row in self.rows)


def _bpdu_text(bpdu: ConfigBpdu) -> str:
    return (f"root {bridge_id_str(bpdu.root)} cost {bpdu.root_path_cost} bridge {bridge_id_str(bpdu.bridge_id)} "
            f"port {bpdu.port_id:04x} max_age {format_duration(bpdu.max_age_ns)} hello "
            f"{format_duration(bpdu.hello_time_ns)} forward_delay {format_duration(bpdu.forward_delay_ns)}")


def _kernel_id(text: str) -> str:
    """``8000.2:b0:0:1:0:0`` (iproute2's form) as ``8000.02b000010000``."""
    priority, _, mac = text.partition(".")
    return f"{int(priority, 16):04x}." + "".join(f"{int(part, 16):02x}" for part in mac.split(":"))


def _switch_links(net: Network) -> list[tuple[Port, Port]]:
    return [link.ports for link in net.links
            if all(isinstance(p.node, LearningSwitch) and p.node.stp is not None for p in link.ports)]


def _checked_scope(spec: TopologySpec, net: Network) -> list[str]:
    if net.hypervisors:
        raise KernelCheckError(f"{spec.name}: kernel-check of STP builds switches and hosts only, not hypervisors")
    if spec.until_ns is None:
        raise KernelCheckError(f"{spec.name}: a file with STP needs until")
    skipped = ["frames the file sends: the STP check compares the spanning tree, not who received what"]
    others = sorted({a.kind for a in spec.scenario} - {"link", "send", "expect"})
    if others:
        skipped.append(f"scenario actions {', '.join(others)}: not replayed in the kernel")
    plain = [sw.name for sw in spec.switches if sw.stp is None]
    if plain:
        skipped.append(f"switches without STP ({', '.join(plain)}): built, not compared")
    return skipped


def run_vswitch(spec: TopologySpec) -> tuple[Network, dict[tuple[str, bytes], ConfigBpdu]]:
    """The file in vswitch to its ``until``, with the last configuration BPDU each switch port sent on a cable
    between two STP switches, by (port, source MAC)."""
    net = build_network(spec)
    last: dict[tuple[str, bytes], ConfigBpdu] = {}

    def seen(name: str, frame: bytes, now: int, outcome: Any, outputs: Iterable[Port]) -> None:
        bpdu = parse(frame)
        if isinstance(bpdu, ConfigBpdu):
            last[(name, frame[6:12])] = bpdu

    for a, b in _switch_links(net):
        for end in (a, b):  # both ends under the cable's first port, as the kernel's one socket on it sees them
            end.add_tap(CallbackTap(partial(seen, a.full_name)), "out")
    ScenarioRunner(spec, net).run()
    return net, last


class _KernelStp:
    """The file's switches and hosts as Linux bridges and veths in ``lab``."""

    def __init__(self, lab: KernelLab, net: Network) -> None:
        self.lab, self.net = lab, net
        self.dev: dict[str, str] = {}  # switch port full name -> its veth in the switch namespace
        self.bridge: dict[str, str] = {}  # switch name -> bridge device
        self.sockets: dict[str, socket.socket] = {}  # first port of a switch-to-switch cable -> capture socket

    def build(self) -> None:
        lab, net = self.lab, self.net
        ns = lab.switch_ns
        index = {name: i for i, name in enumerate(net.switches, start=1)}
        stp = spanning_trees(net)
        for name, switch in net.switches.items():
            tree = stp.get(name)
            dev = lab.add_bridge(name, mac=bridge_mac(index[name]).hex(":") if tree else None)
            self.bridge[name] = dev
            if tree is not None:
                cs = lambda ns_: str(round(ns_ / 10**7))  # noqa: E731 - centiseconds, as iproute2 passes them
                run_command("ip", "-n", ns, "link", "set", dev, "down")
                run_command("ip", "-n", ns, "link", "set", dev, "type", "bridge", "stp_state", "1", "priority",
                            str(int.from_bytes(tree.bridge_id[:2], "big")), "hello_time",
                            cs(tree.bridge_hello_time), "max_age", cs(tree.bridge_max_age), "forward_delay",
                            cs(tree.bridge_forward_delay))
        hosts = {name: lab.add_netns(f"h{i}") for i, name in enumerate(sorted(net.hosts), start=1)}
        ends: dict[str, str] = {}
        for link in net.links:
            sides = []
            for port in link.ports:
                if isinstance(port.node, LearningSwitch):
                    tree = stp.get(port.node.name)
                    member = tree.by_name.get(port.name) if tree else None
                    sides.append((ns, member.mac.hex(":") if member else None))
                elif port.node.name in hosts:
                    sides.append((hosts[port.node.name], str(port.node.mac)))
                else:
                    raise KernelCheckError(f"{port.full_name}: kernel-check of STP cables switches and hosts only")
            devs = lab.add_veth(sides[0][0], sides[1][0], sides[0][1], sides[1][1])
            for port, dev in zip(link.ports, devs):
                ends[port.full_name] = dev
        for name, switch in net.switches.items():  # enslaved in port order: the kernel numbers them so
            tree = stp.get(name)
            for port in switch._port_list:
                veth = ends.get(port.full_name)
                if veth is None:
                    continue
                lab.enslave(port.full_name, veth, name)
                self.dev[port.full_name] = veth
                member = tree.by_name.get(port.name) if tree else None
                if member is not None:
                    run_command("bridge", "-n", ns, "link", "set", "dev", veth, "priority", str(member.priority),
                                "cost", str(member.path_cost))
        for a, _ in _switch_links(net):
            with in_netns(ns):
                sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            sock.bind((self.dev[a.full_name], 0))
            sock.setblocking(False)
            self.sockets[a.full_name] = sock

    def start(self) -> float:
        """Bring every bridge up in one batch (``br_stp_enable_bridge`` enables their ports); returns when."""
        with tempfile.NamedTemporaryFile("w", suffix=".ip", delete=False) as batch:
            batch.write("".join(f"link set {dev} up\n" for dev in self.bridge.values()))
        try:
            started = now_s()
            run_command("ip", "-n", self.lab.switch_ns, "-batch", batch.name)
        finally:
            os.unlink(batch.name)
        return started

    def set_cable(self, a: str, b: str | None, up: bool) -> None:
        """A ``link`` action: one switch end of the cable set down (its peer loses carrier) or up."""
        ports = self.net.link(a, b).ports
        self.lab.set_link(next(self.dev[p.full_name] for p in ports if p.full_name in self.dev), up)

    def state(self) -> dict[str, dict[str, Any]]:
        """``ip -d link`` of every device in the switch namespace, by name."""
        rows = json.loads(run_command("ip", "-n", self.lab.switch_ns, "-j", "-d", "link", "show"))
        return {row["ifname"]: row.get("linkinfo", {}) for row in rows}

    def bpdus(self) -> dict[tuple[str, bytes], ConfigBpdu]:
        last: dict[tuple[str, bytes], ConfigBpdu] = {}
        for name, sock in self.sockets.items():
            while True:
                try:
                    frame = sock.recv(65536)
                except BlockingIOError:
                    break
                except OSError:  # ENETDOWN, once, when a link action set this end down: what came before stays
                    continue
                bpdu = parse(frame)
                if isinstance(bpdu, ConfigBpdu):
                    last[(name, frame[6:12])] = bpdu
            sock.close()
        return last


def _kernel_root(info: dict[str, Any], kernel: _KernelStp, tree: Any, bridge: dict[str, Any]) -> str:
    """The bridge's root as the kernel holds it (``br_root_selection``): its root port's designated root, or its
    own ID without one. (iproute2 prints the bridge's ``root_id`` from the bridge ID attribute, so that is not
    read.)"""
    for p in tree.ports:
        slave = info.get(kernel.dev.get(p.port.full_name, ""), {}).get("info_slave_data")
        if slave is not None and int(slave["no"], 16) == bridge["root_port"]:
            return _kernel_id(slave["root_id"])
    return _kernel_id(bridge["bridge_id"])


def _kernel_role(port: dict[str, Any], bridge: dict[str, Any]) -> str:
    if port["state"] == "disabled":
        return "disabled"
    if int(port["no"], 16) == bridge["root_port"]:
        return "root"
    mine = _kernel_id(bridge["bridge_id"]) == _kernel_id(port["bridge_id"])
    return "designated" if mine and port["designated_port"] == int(port["id"], 16) else "non-designated"


def check_stp(spec: TopologySpec, *, prefix: str = "vsk") -> StpReport:
    """Run ``spec`` in vswitch and, in real time, on Linux bridges; compare the trees at ``until``."""
    require_kernel_lab()
    started = now_s()
    net, vs_bpdus = run_vswitch(spec)
    skipped = _checked_scope(spec, net)
    until_s = spec.until_ns / 1e9  # type: ignore[operator]  # checked in _checked_scope
    links = sorted(((a.at_ns, a.action) for a in spec.scenario if isinstance(a.action, LinkAction)),
                   key=lambda item: item[0])
    rows: list[StpRow] = []
    with KernelLab(prefix) as lab:
        kernel = _KernelStp(lab, build_network(spec))
        kernel.build()
        t0 = kernel.start()
        for at_ns, action in links:
            sleep_until(t0 + at_ns / 1e9)
            kernel.set_cable(action.a, action.b, action.up)
        sleep_until(t0 + until_s)
        info = kernel.state()
        k_bpdus = kernel.bpdus()
        late = now_s() - (t0 + until_s)
    for name, tree in spanning_trees(net).items():
        bridge = info[kernel.bridge[name]]["info_data"]
        rows.append(StpRow(f"{name} root", _kernel_root(info, kernel, tree, bridge),
                           bridge_id_str(tree.designated_root)))
        k_root = next((p.name for p in tree.ports if p.port_no == bridge["root_port"]), "-")
        rows.append(StpRow(f"{name} root port", k_root, tree.root_port_name() or "-"))
        for p in tree.ports:
            slave = info.get(kernel.dev.get(p.port.full_name, ""), {}).get("info_slave_data")
            if slave is None:
                continue
            rows.append(StpRow(f"{p.port.full_name} state, role", f"{slave['state']}, {_kernel_role(slave, bridge)}",
                               f"{STATE_NAMES[p.state]}, {tree.role(p)}"))
    for key in sorted(set(vs_bpdus) | set(k_bpdus)):
        k, v = k_bpdus.get(key), vs_bpdus.get(key)
        rows.append(StpRow(f"BPDU on {key[0]} from {key[1].hex(':')}", _bpdu_text(k) if k else "-",
                           _bpdu_text(v) if v else "-"))
    skipped.append("BPDU message age and TC/TCA flags: they depend on timing")
    if late > 0.5:
        skipped.append(f"the kernel's state was read {late:.2f}s after until (a busy machine)")
    return StpReport(spec.name, rows, skipped, now_s() - started)


def render_stp(report: StpReport) -> str:
    out = [f"kernel-check {report.topology}: spanning tree at the end of the run, Linux bridges vs vswitch", "",
           tabulate([[r.what, r.kernel, r.vswitch, r.verdict] for r in report.rows],
                    headers=["what", "kernel", "vswitch", "result"])]
    if report.not_checked:
        out += ["", "not checked:"] + [f"  - {line}" for line in report.not_checked]
    differ = sum(r.verdict == DIFFER for r in report.rows)
    out += ["", f"{len(report.rows)} rows: {len(report.rows) - differ} agree, {differ} differ => "
                f"{'AGREE' if report.agrees else 'DIFFER'} ({report.seconds:.1f}s)"]
    return "\n".join(out)
