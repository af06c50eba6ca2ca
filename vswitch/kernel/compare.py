"""The kernel side of ``vswitch kernel-check``: the file's network in a ``KernelLab``, replaying vswitch's steps.

``KernelTopology`` builds the network from kernel objects in fresh namespaces (docs/fidelity.md has the
mapping) and ``replay`` plays the steps ``kernelrecord.record_run`` recorded, one at a time: each frame is sent
from its interface and its copies collected until the lab is quiet (``KernelLab.inject``).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..core.errors import VSwitchError
from ..core.frame import TPID_8021AD, TPID_8021Q
from ..l2.hypervisor import Hypervisor, guest_access, guest_trunk
from ..l2.nic import DEFAULT_GROUPS, NIC, VNIC
from ..l2.switch import PORT_FLAGS, LearningSwitch, SwitchPort
from ..l2.vlan import PortVlans
from ..net.network import Network
from ..realtime import now_s, sleep_until
from ..topology.scenario_reader import (AttachAction, DetachAction, ExpectAction, InterfaceAction, LinkAction,
                                        PortAction)
from .frameio import InjectResult
from .lab import KernelLab
from .netns import KernelLabError
from .record import TRAFFIC_ACTIONS, Step


class KernelCheckError(VSwitchError):
    """A topology the kernel cannot express, or a machine where the check cannot run."""


def require_kernel_lab() -> None:
    """Raise ``KernelCheckError`` (one line) unless this process can build kernel labs."""
    if os.geteuid() != 0:
        raise KernelCheckError("kernel-check needs root (it creates network namespaces): run it with sudo")
    if shutil.which("ip") is None or shutil.which("bridge") is None:
        raise KernelCheckError("kernel-check needs iproute2 (the ip and bridge commands)")


_DEVICE_WORDS = {"promiscuous": "promisc", "allmulti": "allmulticast"}  # interface action -> ip link set word


def _short(name: str, used: set[str]) -> str:
    """A lab name (``[a-z][a-z0-9]{0,11}``) close to ``name``, unique in ``used``."""
    base = "n" + re.sub(r"[^a-z0-9]", "", name.lower())[:8]
    base = base[1:] if base[1:2].isalpha() else base
    candidate = next(c for c in (base, *(f"{base}{n}" for n in range(2, 10**4))) if c not in used)
    used.add(candidate)
    return candidate


def _vlans(switch: LearningSwitch) -> str | None:
    """The ``vlan_protocol`` of a VLAN-filtering switch's kernel bridge; None for a VLAN-unaware one."""
    return switch.vlan_protocol if switch.vlan_filtering else None


@dataclass
class KernelOutcome:
    """What the kernel did with one frame step (``result`` None: not sent, ``note`` says why)."""
    result: InjectResult | None
    promiscuous: frozenset[str] = frozenset()  # endpoints in promiscuous mode at the time
    note: str = ""
    # private/passthru macvlans that are the frame's source: macvlan forwards their own multicast back to them
    # past the multicast filter ("forward to original port"), so no filter difference can explain such a copy
    reflected: frozenset[str] = frozenset()


class KernelTopology:
    """``net`` (built from a topology file, before running) rebuilt in ``lab``; maps vswitch names to devices."""

    def __init__(self, lab: KernelLab, net: Network, time_scale: float = 1.0) -> None:
        self.lab, self.net, self.time_scale = lab, net, time_scale
        self.ageing: dict[str, tuple[int, float]] = {}  # bridge -> (vswitch ageing ns, kernel ageing s)
        self.sent_at: dict[int, float] = {}  # frame id -> monotonic time of its injection
        self.endpoint_of: dict[str, str] = {}  # interface full name -> lab endpoint
        self.interface_of: dict[str, str] = {}  # lab endpoint -> interface full name
        self.filter_of: dict[str, str] = {}  # lab endpoint -> its device type: macvlan, veth or bridge
        self.bridge_of: dict[str, str] = {}  # switch name -> lab bridge key (host bridges included)
        self.cables: list[str] = []  # per net.links index: the device that `link down` sets down
        self.netns: dict[str, str] = {}  # node name -> namespace
        self.lower: dict[str, str] = {}  # hypervisor -> its adapter's (or host bridge's uplink) device
        self.promiscuous: set[str] = set()
        self.unchecked: dict[str, str] = {}  # switch -> why its table is not compared
        self.left: dict[str, set[str]] = {}  # endpoint -> groups it left (macvlan may keep them: fidelity.md)
        self.reflecting: dict[str, bytes] = {}  # private/passthru macvlan endpoint -> its MAC (KernelOutcome)
        self.vlan_devices: dict[tuple[str, int, int], str] = {}  # (hypervisor, TPID, VID) -> its VF VLAN's device
        self.guest_vlans: dict[str, dict[str, int | None]] = {}  # VLAN-aware host bridge -> its VMs' VLANs
        self.short: dict[str, str] = {}  # node name -> lab name
        #: frame id -> the interfaces vswitch delivered it to: the kernel's copies are awaited there past the quiet
        #: period (up to the lab's max wait), so a copy that a busy machine delays is not taken for a difference
        self.predicted: dict[int, frozenset[str]] = {}
        self._names: set[str] = set()

    # -- building ---------------------------------------------------------------------------------------
    def build(self) -> None:
        lab, net = self.lab, self.net
        for name in sorted(net.switches):
            if name not in net.hypervisors:
                switch = net.switches[name]
                table = switch.table
                lab.add_bridge(name, ageing_s=self._ageing(name, table.ageing_ns), vlan_protocol=_vlans(switch))
                self.bridge_of[name] = name
                if table.limit is not None:
                    self._limit(name, table.limit, table.policy.value)
        for name in sorted(net.hosts) + sorted(net.hypervisors):
            self.netns[name] = lab.add_netns(self._short(name))
        cabled: set[str] = set()
        for link in net.links:
            ends = [self._cable_end(port) for port in link.ports]
            dev_a, dev_b = lab.add_veth(ends[0][0], ends[1][0], ends[0][1], ends[1][1])
            for (_, _, attach), dev in zip(ends, (dev_a, dev_b), strict=True):
                attach(dev)
            cabled.update(port.full_name for port in link.ports)
            self.cables.append(dev_b if link.ports[1].node in net.switches.values() or
                               link.ports[0].node not in net.switches.values() else dev_a)
        for port in [nic.port for nics in net.hosts.values() for nic in nics] + [
                hv.uplink for hv in net.hypervisors.values()]:
            if port.full_name not in cabled:  # an unplugged cable: frames sent out of it vanish
                ns, mac, attach = self._cable_end(port)
                attach(lab.add_veth(ns, lab.switch_ns, mac, None)[0])
        for name in sorted(net.hypervisors):
            self._hypervisor(net.hypervisors[name])
        for switch in net.switches.values():
            for row in switch.table.rows(net.now):
                key = f"{switch.name}.{row.port}"
                if row.static and key in lab.ports:  # a static entry on an unplugged port: nothing to set
                    lab.add_static_fdb(row.mac, key, row.vlan if switch.vlan_filtering else None)

    def _ageing(self, bridge: str, ageing_ns: int) -> float:
        """The kernel's ageing time for a switch: scaled like the replay, in whole centiseconds (>= 1 unless 0)."""
        kernel = 0.0 if not ageing_ns else max(1, round(ageing_ns * self.time_scale / 1e7)) / 100
        self.ageing[bridge] = (ageing_ns, kernel)
        return kernel

    def _limit(self, switch: str, limit: int, policy: str) -> None:
        """A table limit: Linux's ``fdb_max_learned`` is the ``refuse`` policy (0 there means no limit)."""
        if policy != "refuse" or limit == 0:
            self.unchecked[switch] = f"table_limit {limit} ({policy}) has no Linux bridge counterpart"
            return
        try:
            self.lab.set_fdb_max_learned(switch, limit)
        except (KernelLabError, OSError) as exc:
            self.unchecked[switch] = f"table_limit {limit}: this kernel cannot set fdb_max_learned ({exc})"

    def _cable_end(self, port) -> tuple[str, str | None, Any]:
        """(namespace, MAC, attach(dev)) for one end of a cable."""
        node, lab = port.node, self.lab
        if isinstance(node, LearningSwitch) and node.name not in self.net.hypervisors:
            return lab.switch_ns, None, partial(self._enslave, port, node.name)
        for hv in self.net.hypervisors.values():
            if port is hv.uplink:  # the adapter keeps its own MAC (a passthru vNIC lends it its own later)
                mac = None if hv.adapter is None else str(getattr(hv.adapter, "_own_mac", hv.host.mac))
                return self.netns[hv.name], mac, partial(self.lower.__setitem__, hv.name)
        if type(node) is NIC and node.name in self.net.hosts:
            ns = self.netns[node.name]
            return ns, str(node.mac), lambda dev: self._endpoint(node, "host", ns, dev, "veth")
        raise KernelCheckError(f"{port.full_name}: kernel-check cannot cable this kind of port")

    def _enslave(self, port: SwitchPort, bridge: str, dev: str) -> None:
        """Make ``dev`` the kernel's ``port`` of ``bridge``: its flags and, on a VLAN-filtering bridge, its VLANs."""
        flags = {f: v for f, v in port.flags().items() if v != PORT_FLAGS[f]}
        self.lab.enslave(port.full_name, dev, bridge, **flags)
        if port.node.vlan_filtering:
            self._set_vlans(port.full_name, port.vlans)

    def _set_vlans(self, key: str, vlans: PortVlans) -> None:
        self.lab.set_port_vlans(key, vlans.pvid, vlans.vlans, vlans.untagged)

    def _short(self, name: str) -> str:
        """The lab name of node ``name`` (a namespace ``<tag>-<short>`` and its first endpoint)."""
        if name not in self.short:
            self.short[name] = _short(name, self._names)
        return self.short[name]

    def _endpoint(self, nic: NIC, kind: str, ns: str, dev: str, device: str) -> None:
        """Register ``dev`` as the kernel endpoint of ``nic`` (a host NIC or a hypervisor's own interface)."""
        first = nic.ifname == "host" or self.net.hosts.get(nic.name, [None])[0] is nic  # hv1.10: not the first
        name = self._short(nic.name) if first else _short(f"{self._short(nic.name)}{nic.ifname}", self._names)
        self.lab.add_endpoint(name, kind, ns, dev, nic.name)
        self._register(nic, name, device, sorted(nic.groups - set(DEFAULT_GROUPS)))

    def _register(self, nic: NIC, name: str, device: str, groups: list[bytes]) -> None:
        self.endpoint_of[nic.full_name], self.interface_of[name], self.filter_of[name] = name, nic.full_name, device
        ipv6 = getattr(getattr(nic.stack, "guest", None), "ipv6", None)
        if ipv6 is not None:  # the kernel's IPv6 joins the solicited-node groups: checked, not copied
            self.lab.enable_ipv6(name, [str(i) for i in ipv6.interfaces if not i.ip.is_link_local],
                                 link_local=any(i.ip.is_link_local for i in ipv6.interfaces),
                                 dad_transmits=ipv6.dad_transmits)  # the kernel's DAD: kernel/dad.py
            groups = [g for g in groups if g not in set(ipv6.multicast_macs())]
        for group in groups:
            self.lab.join_multicast(name, group.hex(":"))

    def _hypervisor(self, hv: Hypervisor) -> None:
        ns, lower = self.netns[hv.name], self.lower[hv.name]
        if hv.adapter is not None:
            self._endpoint(hv.host, "adapter", ns, lower, "veth")
            for vid, nic in sorted(hv.adapter.interfaces.items()):  # eth0.N, before the macvlans stacked on it
                mac = None if nic.mac == hv.host.mac else str(nic.mac)
                self._endpoint(nic, "adapter", ns, self._vlan_device(hv, TPID_8021Q, vid, mac), "vlan")
        elif hv.bridge is not None:
            bridge = self.lab.add_bridge(hv.name, netns=ns, ageing_s=self._ageing(hv.name, hv.bridge.table.ageing_ns),
                                         mac=str(hv.host.mac), vlan_protocol=_vlans(hv.bridge))
            self.bridge_of[hv.name] = hv.name
            self._enslave(hv.bridge.port(hv.uplink.name), hv.name, lower)
            self._endpoint(hv.host, "host", ns, bridge, "bridge")
        for vnic in sorted(hv.vms.values(), key=lambda v: v.name):
            vif = hv.vif_of(vnic)
            self.attach(vnic, hv, vnic.mode, vif.name if vif else None, sorted(vnic.groups - set(DEFAULT_GROUPS)))

    def attach(self, vnic: VNIC, hv: Hypervisor, mode: str | None, vif: str | None, groups: list[bytes]) -> None:
        """Plug a vNIC in: a macvlan on the adapter, or a veth whose peer ``vif`` is a host-bridge port."""
        ns, lower, lab, name = self.netns[hv.name], self.lower[hv.name], self.lab, self._short(vnic.name)
        self.reflecting.pop(name, None)
        if hv.adapter is not None:  # add_macvlan makes the namespace <tag>-<name> the first time
            mode = mode or hv.adapter.mode
            vf = vnic.vf
            vlan = (vf.tpid, vf.vlan) if vf.vlan is not None else (TPID_8021Q, vnic.lower_vid) if vnic.lower_vid else None
            lower = self._vlan_device(hv, *vlan) if vlan else lower
            lab.add_macvlan(name, ns, lower, str(vnic.mac), mode, hv.name)
            self.netns[vnic.name] = f"{lab.tag}-{name}"
            device = "macvlan"
            if mode in ("private", "passthru"):
                self.reflecting[name] = vnic.mac.packed
        else:
            if vnic.name not in self.netns:
                self.netns[vnic.name] = lab.add_netns(name)
            port, dev = lab.add_veth(ns, self.netns[vnic.name], None, str(vnic.mac), kinds="pv")
            lab.enslave(f"{hv.name}.{vif}", port, hv.name)
            if hv.bridge is not None and hv.bridge.vlan_filtering:  # its vif an access port, the uplink a trunk
                self._set_vlans(f"{hv.name}.{vif}", guest_access(vnic.vf.vlan))
                self.guest_vlans.setdefault(hv.name, {})[vnic.name] = vnic.vf.vlan
                self._set_vlans(hv.uplink.full_name, guest_trunk(self.guest_vlans[hv.name].values()))
            lab.add_endpoint(name, "vnic", self.netns[vnic.name], dev, hv.name)
            device = "veth"
        self._register(vnic, name, device, groups)

    def _vlan_device(self, hv: Hypervisor, tpid: int, vid: int, mac: str | None = None) -> str:
        """The VLAN device (TPID, VID) on ``hv``'s adapter, made the first time: a host VLAN interface (eth0.N,
        with ``mac``) and the lower device of the vNICs stacked on it; a VF's port VLAN is a macvlan on one too,
        which sends tagged and receives only that VLAN, untagged."""
        key = (hv.name, tpid, vid)
        if key not in self.vlan_devices:
            protocol = "802.1ad" if tpid == TPID_8021AD else "802.1Q"
            self.vlan_devices[key] = self.lab.add_vlan_device(self.netns[hv.name], self.lower[hv.name], vid,
                                                              protocol, mac)
        return self.vlan_devices[key]

    # -- replaying --------------------------------------------------------------------------------------
    def perform(self, step: Step) -> str:
        """Apply a non-send step to the kernel; return '' or why it cannot be replayed."""
        assert step.action is not None  # a frame step is sent, not performed
        lab, action = self.lab, step.action.action
        if isinstance(action, (ExpectAction, *TRAFFIC_ACTIONS)):  # their frames and attachments are steps of their own
            return ""
        if isinstance(action, LinkAction):
            lab.set_link(self.cables[step.target["link"]], action.up)
        elif isinstance(action, PortAction):
            if action.security is not None:
                return "port security (max_macs) has no kernel equivalent: the Linux bridge has no per-port MAC limit"
            key = step.target["port"]
            if key in lab.ports:  # a port with no cable has nothing to set in the kernel
                lab.set_port(key, **dict(action.flags))
                if action.vlans is not None:  # the same VLANs vswitch gave it (security_checks.perform_port)
                    self._set_vlans(key, PortVlans.declared(action.vlans.pvid, action.vlans.vlans))
        elif isinstance(action, InterfaceAction):
            return self._interface(step.target["nic"], action)
        elif isinstance(action, DetachAction):
            ep = self.endpoint_of.get(step.target.get("nic", ""))
            if ep is None or ep not in lab.endpoints:
                return f"detach {action.vm}: no such vNIC in the kernel"
            lab.remove_endpoint(ep)
            self.reflecting.pop(ep, None)
            for name, vlans in self.guest_vlans.items():  # its host bridge's uplink no longer trunks its VLAN
                if action.vm in vlans:
                    del vlans[action.vm]
                    self._set_vlans(self.net.hypervisors[name].uplink.full_name, guest_trunk(vlans.values()))
        elif isinstance(action, AttachAction):
            vnic, hv = self.net.vnics[action.vm], self.net.hypervisors[action.hypervisor]
            self.attach(vnic, hv, step.target["mode"], step.target["vif"], step.target["groups"])
        else:
            return f"action {action.kind!r} has no kernel equivalent here"
        return ""

    def _interface(self, nic: str, action: InterfaceAction) -> str:
        ep = self.endpoint_of.get(nic)
        if ep is None or ep not in self.lab.endpoints:
            return f"interface {nic}: not present in the kernel"
        if action.up is not None:
            own = self.filter_of[ep] == "vlan"  # eth0.N: a device of its own, set down as vswitch sets hv1.N down
            if not own and (self.lab.endpoints[ep].kind == "adapter" or self.filter_of[ep] == "bridge"):
                return f"interface {nic} up/down: in the kernel the hypervisor's interface is the adapter itself"
            self.lab.set_link(self.lab.endpoints[ep].ifname, action.up)
        for key, on in (("promiscuous", action.promiscuous), ("allmulti", action.allmulti)):
            if on is not None:
                self.lab.set_device(ep, _DEVICE_WORDS[key], "on" if on else "off")
                if key == "promiscuous":
                    (self.promiscuous.add if on else self.promiscuous.discard)(ep)
        for group in action.join:
            self.lab.join_multicast(ep, str(group))
            self.left.get(ep, set()).discard(str(group))
        for group in action.leave:
            self.lab.join_multicast(ep, str(group), join=False)
            self.left.setdefault(ep, set()).add(str(group))
        return ""

    def send(self, step: Step) -> KernelOutcome:
        ep = self.endpoint_of.get(step.sender)
        if ep is None or ep not in self.lab.endpoints:
            return KernelOutcome(None, note=f"{step.sender} has no device in the kernel now")
        awaited = frozenset(self.endpoint_of[name] for name in self.predicted.get(step.frame_id or 0, ())
                            if name in self.endpoint_of)
        result = self.lab.inject(ep, step.frame, awaited=awaited)
        refused = f"the kernel refused to send: {result.error}" if result.error else ""
        source = step.frame[6:12] if step.frame[0] & 1 else None  # a multicast frame's source
        reflected = frozenset(e for e, mac in self.reflecting.items() if mac == source)
        return KernelOutcome(result, frozenset(self.promiscuous), refused, reflected)

    def replay(self, steps: list[Step], pace_s: float | None, max_frames: int | None = None
               ) -> tuple[dict[int, KernelOutcome], str]:
        """Play ``steps``; return the outcome per frame id and, if an action could not be replayed, why (the
        frames after it are then not sent). ``pace_s``: the start (monotonic) of a replay that keeps the file's
        timing, ``time_scale`` times faster or slower; None: one step after the other."""
        outcomes: dict[int, KernelOutcome] = {}
        for step in steps:
            if pace_s is not None:
                sleep_until(pace_s + step.time_ns * self.time_scale / 1e9)
            frame_id = step.frame_id
            if frame_id is None:  # an action (a frame step has its frame's id; a send's copy its action too)
                blocked = self.perform(step)
                if blocked:
                    where = f" ({step.action.where})" if step.action is not None and step.action.where.line else ""
                    return outcomes, f"{blocked}{where}"
            elif max_frames is not None and len(outcomes) >= max_frames:
                return outcomes, f"the replay stops after {max_frames} frames (--max-frames)"
            elif "held" in step.target:  # vswitch's VF dropped it: the kernel must not see it either
                outcomes[frame_id] = KernelOutcome(None, note=f"dropped by {step.sender}'s VF in vswitch "
                                                              f"({step.target['held'].name.lower()})")
            else:
                self.sent_at[frame_id] = now_s()
                outcomes[frame_id] = self.send(step)
        return outcomes, ""

