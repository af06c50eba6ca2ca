"""The MAC of each VM's vNIC: the one its file gives, or the one the build allocates from its ``prefix``.

The build (``build.py``) takes its VMs' MACs from here, and so do the loader's checks (``guest_check.py``: a VM's
link-local address is the EUI-64 of its MAC; ``bounds.py``: a migration's default announcer is its MAC's
vendor's), so that ``vswitch validate`` knows a prefix VM's MAC before anything is built. The rule is the
``MACAllocator``'s (``core/mac.py``: a counter per prefix from ``<prefix>:00:00:01``), skipping every MAC the file
gives anywhere (a host NIC's, a hypervisor's, a VM's, a VLAN interface's, even further down the file), in the
order the build adds VMs: hypervisors in file order, each one's VMs in order.
"""

from __future__ import annotations

from typing import Sequence

from ..core.mac import MACAddress, MACAllocator
from .spec import HostSpec, HypervisorSpec


def given_macs(hosts: Sequence[HostSpec], hypervisors: Sequence[HypervisorSpec]) -> list[MACAddress]:
    """Every MAC the file writes: host NICs', hypervisors', VMs' and host VLAN interfaces'."""
    macs = [nic.mac for host in hosts for nic in host.nics] + [hv.mac for hv in hypervisors]
    macs += [vm.mac for hv in hypervisors for vm in hv.vms if vm.mac is not None]
    macs += [vlan.mac for hv in hypervisors for vlan in hv.vlans if vlan.mac is not None]
    return [mac for mac in macs if mac is not None]  # None: a MAC the reader refused (reported already)


def vm_macs(hosts: Sequence[HostSpec], hypervisors: Sequence[HypervisorSpec]) -> list[MACAddress]:
    """The MAC of each VM, hypervisor by hypervisor and VM by VM in the file's order: its ``mac``, or the next
    free one under its ``prefix``."""
    allocator = MACAllocator()
    allocator.avoid(given_macs(hosts, hypervisors))
    # a prefix the reader refused (None: the file does not load) stands as qemu's, so the others stay in step
    return [vm.mac if vm.mac is not None else allocator.allocate(vm.prefix or "qemu")
            for hv in hypervisors for vm in hv.vms]


def vm_mac_table(hosts: Sequence[HostSpec], hypervisors: Sequence[HypervisorSpec]) -> dict[str, MACAddress]:
    """``vm_macs`` by VM name (a name used twice, refused by the loader, keeps its first VM's)."""
    names = [vm.name for hv in hypervisors for vm in hv.vms]
    table: dict[str, MACAddress] = {}
    for name, mac in zip(names, vm_macs(hosts, hypervisors)):
        table.setdefault(name, mac)
    return table
