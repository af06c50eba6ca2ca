"""A hypervisor's host VLAN interfaces (``vlans: [{vid: 10, ip: 10.0.10.1/24}]``) and the VMs stacked on them
(``on: hv1.10``): read and checked against each other (docs/topology.md, "Host VLAN interfaces")."""

from __future__ import annotations

from ..l2.vlan import MAX_VID
from .fields import unicast_mac, where
from .guest_reader import read_guest
from .spec import HostVlanSpec, VFSpec
from .yamlreader import MapReader, integer_between, text


def read_host_vlans(r: MapReader, name: str, backend: str) -> tuple[HostVlanSpec, ...]:
    """The ``vlans`` of hypervisor ``name``: one 802.1Q interface ``<name>.<vid>`` each, VIDs unique."""
    if backend == "bridge" and "vlans" in r.mapping:
        r.error("vlans", "host VLAN interfaces (eth0.N) sit on an adapter (backend: adapter); on a host bridge give "
                "each guest its vlan (vlan_filtering: true)")
    found: list[HostVlanSpec] = []
    for item in r.take_maps("vlans", required=False):
        vid = item.take("vid", integer_between(1, MAX_VID))
        mac = item.take("mac", unicast_mac, default=None)
        guest = read_guest(item)
        item.finish()
        if vid is None:
            continue
        if any(v.vid == vid for v in found):
            item.error("vid", f"hypervisor {name} already has VLAN interface {name}.{vid}: each VID once")
            continue
        found.append(HostVlanSpec(vid, mac, guest, where(item), where(item, "mac")))
    return tuple(found)


def read_on(r: MapReader, hypervisor: str, vlans: tuple[HostVlanSpec, ...], vf: VFSpec | None,
            mode: str | None) -> str | None:
    """A VM's ``on``: the VLAN interface of its own hypervisor its vNIC is stacked on (``hv1.10``), which then has
    no port VLAN and is not passthru."""
    on = r.take("on", text, default=None)
    if on is None:
        return None
    interfaces = [f"{hypervisor}.{v.vid}" for v in vlans]
    if on not in interfaces:
        have = ", ".join(interfaces) or "none: list them in the hypervisor's vlans, e.g. vlans: [{vid: 10}]"
        r.error("on", f"{on!r} is no VLAN interface of hypervisor {hypervisor} (it has: {have}); "
                      f"write on: {hypervisor}.VID")
    elif vf is not None and isinstance(vf.vlan, int):
        r.error("on", f"a vNIC on {on} is untagged behind it and takes no port VLAN: give on or vlan, not both")
    elif mode == "passthru":
        r.error("on", f"passthru takes the whole adapter, not VLAN interface {on}")
    return on
