"""What ``vswitch kernel-check`` cannot reproduce of the security features, and how it says so.

The kernel lab is built from VLAN-unaware Linux bridges, veths and macvlans (docs/fidelity.md). So:

- **refused** (``unsupported``): topologies with 802.1Q VLANs (VLAN-filtering switches or host bridges, VF port
  VLANs: this kernel has neither bridge VLAN filtering nor the 8021q module, and every flood domain would differ)
  and with port security (``max_macs``: the Linux bridge has no per-port MAC limit). Loops were refused already.
- **listed as not checked** (``not_checked``): the SR-IOV controls a macvlan does not have (spoofchk, trust, state,
  max_tx_rate), an adapter's finite MAC filter, the storm limit.
- **frames not checked** (``frame_note``): a frame whose fate in vswitch depended on one of those controls (dropped
  with one of their reasons, handed to a trusted promiscuous vNIC, or sent to or from a vNIC whose VF link state
  is forced, enable or disable) is marked "not checked" with the reason, and a frame the vNIC's VF dropped is not
  sent in the kernel either (so the kernel's tables do not learn from it); the other frames are compared as usual.
  ``state auto`` is a macvlan's behaviour and is compared.
"""

from __future__ import annotations

from ..core.reasons import DropReason, Verdict
from ..net.network import Network
from ..topology.spec import TopologySpec

#: Outcomes with no counterpart in the kernel lab: a frame that met one is not compared.
NO_COUNTERPART = {
    DropReason.SPOOFED_SOURCE: "spoofchk", DropReason.SPOOFED_VLAN: "spoofchk",
    DropReason.VF_DISABLED: "the VF's link state", DropReason.RATE_LIMITED: "max_tx_rate",
    DropReason.PORT_SECURITY: "port security", DropReason.PORT_SHUT_DOWN: "port security",
    DropReason.STORM_LIMIT: "the storm limit", DropReason.NO_PVID: "VLANs", DropReason.VLAN_NOT_ALLOWED: "VLANs",
    Verdict.TO_PROMISCUOUS_VNIC: "trust (a trusted promiscuous VF takes the unicast no vNIC owns)",
}


def unsupported(net: Network) -> list[str]:
    """Why the security features of ``net`` keep it out of the kernel lab (empty: they do not)."""
    reasons = []
    for name in sorted(net.switches):
        switch = net.switches[name]
        if switch.vlan_filtering:
            reasons.append(f"switch {name}: vlan_filtering: the lab's bridges are VLAN-unaware (this kernel has no "
                           "bridge VLAN filtering and no 8021q module)")
        secured = [p.name for p in switch._port_list if p.security is not None]
        if secured:
            reasons.append(f"switch {name}: max_macs on {', '.join(secured)}: the Linux bridge has no per-port "
                           "MAC limit")
    for name in sorted(net.vnics):
        if net.vnics[name].vf.vlan is not None:
            reasons.append(f"VM {name}: a port VLAN (vlan): macvlan has no VLANs, and this kernel no 8021q module")
    return reasons


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


def frame_note(net: Network, frame_id: int, frame: bytes) -> str:
    """Why this frame is not compared ('' if it is): an outcome without kernel counterpart, or a VF link state."""
    for event in net.trace.for_frame(frame_id):
        what = NO_COUNTERPART.get(event.outcome)
        if what is not None:
            return f"{event.outcome.name.lower()} at {event.port}: {what} has no counterpart in the kernel lab"
    for mac in (frame[0:6], frame[6:12]):
        for vnic in net.vnics.values():
            if vnic.vf.state in ("enable", "disable") and vnic.mac.packed == mac:  # auto: a macvlan's own
                return f"to or from {vnic.full_name}, whose VF link state (state {vnic.vf.state}) the lab lacks"
    return ""
