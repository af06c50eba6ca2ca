"""What ``vswitch kernel-check`` cannot reproduce of the security features, and how it says so.

The kernel lab is built from Linux bridges, veths and macvlans (docs/fidelity.md); VLANs from VLAN-filtering
bridges and VLAN devices (a VF's port VLAN, a hypervisor's VLAN interface), where the kernel has them (``features.vlan_support`` finds out by trying). So:

- **refused** (``unsupported``): topologies with VLANs the kernel lacks (VLAN-filtering switches or host bridges
  without bridge VLAN filtering, VF port VLANs without VLAN devices, either for 802.1ad too; the reason says what
  was tried and what the kernel answered) and with port security (``max_macs``: the Linux bridge has no per-port
  MAC limit). Loops were refused already.
- **listed as not checked** (``not_checked``): the SR-IOV controls a macvlan does not have (spoofchk, trust, state,
  max_tx_rate), an adapter's finite MAC filter, the storm limit.
- **frames not checked** (``frame_note``): a frame whose fate in vswitch depended on one of those controls (dropped
  with one of their reasons, handed to a trusted promiscuous vNIC, or sent to or from a vNIC whose VF link state
  is forced, enable or disable) is marked "not checked" with the reason, and a frame the vNIC's VF dropped is not
  sent in the kernel either (so the kernel's tables do not learn from it); the other frames are compared as usual.
  ``state auto`` is a macvlan's behaviour and is compared. A VLAN drop at a switch (``no_pvid``,
  ``vlan_not_allowed``) is the bridge's and is compared; at an adapter (its NIC's VLAN filter) it is not: a
  macvlan takes a frame by MAC whatever its tag.
"""

from __future__ import annotations

from ..core.reasons import DropReason, Verdict
from ..core.trace import Trace
from ..l2.vxlan import endpoints
from ..net.network import Network
from ..topology.spec import TopologySpec
from . import features

#: Outcomes with no counterpart in the kernel lab: a frame that met one is not compared.
NO_COUNTERPART = {
    DropReason.SPOOFED_SOURCE: "spoofchk", DropReason.SPOOFED_VLAN: "spoofchk",
    DropReason.VF_DISABLED: "the VF's link state", DropReason.RATE_LIMITED: "max_tx_rate",
    DropReason.PORT_SECURITY: "port security", DropReason.PORT_SHUT_DOWN: "port security",
    DropReason.STORM_LIMIT: "the storm limit",
    Verdict.TO_PROMISCUOUS_VNIC: "trust (a trusted promiscuous VF takes the unicast no vNIC owns)",
}


def unsupported(net: Network) -> list[str]:
    """Why the VLANs, port security and VXLAN ports of ``net`` keep it out of the kernel lab (empty: they do not)."""
    reasons = missing_vlan_features(net)
    for name in sorted(net.switches):
        secured = [p.name for p in net.switches[name]._port_list if p.security is not None]
        if secured:
            reasons.append(f"switch {name}: max_macs on {', '.join(secured)}: the Linux bridge has no per-port "
                           "MAC limit")
    for tunnel in endpoints(net.switches[name] for name in sorted(net.switches)):
        reasons.append(f"{tunnel.name}: a VXLAN port: the kernel lab builds no tunnels (vswitch live joins Linux "
                       "vxlan devices: docs/live.md)")
    return reasons


def missing_vlan_features(net: Network) -> list[str]:
    """One line per VLAN of ``net`` that this machine's kernel cannot build, with the kernel's answer."""
    needs = vlan_needs(net)
    support = features.vlan_support() if needs else {}  # probe the kernel only for a topology with VLANs
    return [f"{what}: {support[feature]}" for what, feature in needs if support[feature]]


def vlan_needs(net: Network) -> list[tuple[str, str]]:
    """(what, feature of ``features.FEATURES``) for each VLAN of ``net`` that the kernel lab must build."""
    needs = []
    for name in sorted(net.switches):
        switch = net.switches[name]
        if switch.vlan_filtering:
            kind = "hypervisor" if name in net.hypervisors else "switch"
            needs.append((f"{kind} {name}: vlan_filtering {switch.vlan_protocol}",
                          features.FILTERING[switch.vlan_protocol]))
    for name in sorted(net.hypervisors):
        adapter = net.hypervisors[name].adapter
        needs += [(f"hypervisor {name}: VLAN interface {name}.{vid}", features.VLAN_DEVICES)
                  for vid in sorted(adapter.interfaces if adapter is not None else ())]
    for name in sorted(net.vnics):
        vnic = net.vnics[name]
        host = net.hypervisors.get(vnic.hypervisor or "")
        if vnic.vf.vlan is not None and (host is None or host.adapter is not None):  # a host bridge's: its vif's
            needs.append((f"VM {name}: port VLAN {vnic.vf.describe_vlan()}", features.DEVICES[vnic.vf.protocol]))
    return needs


def not_checked(spec: TopologySpec) -> list[str]:
    """One line per SR-IOV control, MAC filter or storm limit the file sets."""
    out = []
    for hv in spec.hypervisors:
        for vm in hv.vms:
            vf = vm.vf
            if vf is None:
                continue
            used = [f"{key}={value}" for key, value, default in (
                ("spoofchk", vf.spoofchk, False), ("trust", vf.trust, None), ("state", vf.state, "auto"),
                ("max_tx_rate", vf.max_tx_rate_mbps, 0)) if value != default and value is not None]
            if used:
                out.append(f"VM {vm.name}: SR-IOV controls {', '.join(used)}: macvlan has no VFs; frames whose "
                           "fate depended on them are not checked")
        if hv.mac_filter_size is not None:
            out.append(f"hypervisor {hv.name}: mac_filter_size {hv.mac_filter_size}: where an adapter drops unicast "
                       "no vNIC owns (uplink or host stack) is not compared, only that nobody receives it")
    for sw in spec.switches:
        if sw.storm_limit != 16:
            out.append(f"switch {sw.name}: storm_limit {sw.storm_limit}: loops are not built in the kernel lab")
    return out


def hops(net: Network) -> Trace:
    """The hop trace of ``net``, which kernel-check always builds recording (``build_network``'s default)."""
    if net.trace is None:
        raise RuntimeError("kernel-check needs a network that records its hops; this one keeps no trace")
    return net.trace


def frame_note(net: Network, frame_id: int, frame: bytes) -> str:
    """Why this frame is not compared ('' if it is): an outcome without kernel counterpart, or a VF link state."""
    for event in hops(net).for_frame(frame_id):
        what = NO_COUNTERPART.get(event.outcome)
        if what is None and event.outcome is DropReason.VLAN_NOT_ALLOWED and _on_adapter(net, event.port):
            what = "an adapter's VLAN filter (a macvlan takes a frame by MAC, whatever its tag)"
        if what is not None:
            return f"{event.outcome.name.lower()} at {event.port}: {what} has no counterpart in the kernel lab"
    for mac in (frame[0:6], frame[6:12]):
        for vnic in net.vnics.values():
            if vnic.vf.state in ("enable", "disable") and vnic.mac.packed == mac:  # auto: a macvlan's own
                return f"to or from {vnic.full_name}, whose VF link state (state {vnic.vf.state}) the lab lacks"
    return ""


def _on_adapter(net: Network, port: str) -> bool:
    """Is ``port`` (a full name) a port of a hypervisor's adapter?"""
    hypervisor = net.hypervisors.get(port.split(".", 1)[0])
    return hypervisor is not None and hypervisor.adapter is not None and port == hypervisor.uplink.full_name
