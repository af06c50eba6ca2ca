"""What this machine's kernel offers kernel-check for VLANs, found out by trying it.

Whether a kernel has 802.1Q VLAN devices (the ``8021q`` module) and bridge VLAN filtering
(``CONFIG_BRIDGE_VLAN_FILTERING``) cannot be read reliably from ``/proc`` or ``/sys`` (built in, a module not
loaded yet, a container's view), so ``vlan_support`` asks the kernel: in a throw-away lab (prefix ``vskp``, which
``vswitch kernel-cleanup`` knows) it makes a VLAN device of each protocol on a veth and a VLAN-filtering bridge
of each protocol, with the same ``KernelLab`` calls that build a topology. The answer is kept for the life of
the process. Each feature maps to '' where the kernel has it, else the reason: what was tried and what the
kernel said.
"""

from __future__ import annotations

from functools import cache
from typing import Callable

from .lab import KernelLab
from .netns import CommandFailed, KernelLabError

VLAN_DEVICES = "802.1Q VLAN devices"
QINQ_DEVICES = "802.1ad VLAN devices"
VLAN_FILTERING = "bridge VLAN filtering"
QINQ_FILTERING = "802.1ad bridge VLAN filtering"
FEATURES = (VLAN_DEVICES, QINQ_DEVICES, VLAN_FILTERING, QINQ_FILTERING)
DEVICES = {"802.1Q": VLAN_DEVICES, "802.1ad": QINQ_DEVICES}  # a VF port VLAN's protocol -> what it needs
FILTERING = {"802.1Q": VLAN_FILTERING, "802.1ad": QINQ_FILTERING}  # a bridge's vlan_protocol -> what it needs
PROBE_PREFIX = "vskp"

#: What each probe runs, as a reader would type it.
TRIED = {
    VLAN_DEVICES: "ip link add link DEV name DEV.10 type vlan id 10 protocol 802.1Q",
    QINQ_DEVICES: "ip link add link DEV name DEV.20 type vlan id 20 protocol 802.1ad",
    VLAN_FILTERING: "ip link add BR type bridge vlan_filtering 1 vlan_protocol 802.1Q",
    QINQ_FILTERING: "ip link add BR type bridge vlan_filtering 1 vlan_protocol 802.1ad",
}


def probe_vlan_support(prefix: str = PROBE_PREFIX) -> dict[str, str]:
    """Try each of ``FEATURES`` in a fresh lab; feature -> '' (the kernel has it) or why not."""
    found: dict[str, str] = {}
    with KernelLab(prefix) as lab:
        ns = lab.switch_ns
        lower, _ = lab.add_veth(ns, ns)
        attempts: dict[str, Callable[[], str]] = {
            VLAN_DEVICES: lambda: lab.add_vlan_device(ns, lower, 10, "802.1Q"),
            QINQ_DEVICES: lambda: lab.add_vlan_device(ns, lower, 20, "802.1ad"),
            VLAN_FILTERING: lambda: lab.add_bridge("probe-q", vlan_protocol="802.1Q"),
            QINQ_FILTERING: lambda: lab.add_bridge("probe-ad", vlan_protocol="802.1ad"),
        }
        for feature, attempt in attempts.items():
            try:
                attempt()
                found[feature] = ""
            except CommandFailed as exc:
                found[feature] = f"this kernel has no {feature} (`{TRIED[feature]}`: {exc.output})"
    return found


@cache
def vlan_support() -> dict[str, str]:
    """``probe_vlan_support``, once per process; a lab that cannot be built at all is the reason for each."""
    try:
        return probe_vlan_support()
    except (KernelLabError, OSError) as exc:
        return {feature: f"could not find out whether this kernel has {feature}: {exc}" for feature in FEATURES}
