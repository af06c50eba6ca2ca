"""Turn a ``TopologySpec`` into a live ``Network`` (the mininet split: plain data in, objects out)."""

from __future__ import annotations

import os

from ..core import checks
from ..core.errors import OutputFolderError, TopologyError, VSwitchError
from ..core.trace import DEFAULT_TRACE_LIMIT
from ..guests.ipv6 import Ipv6Stack
from ..guests.stack import GuestStack
from ..guests.stackdriver import attach_stack
from ..io import CostTable, IoAccount, model_named
from ..l2.port import Port
from ..l2.portsecurity import PortSecurity
from ..l2.sriov import VFControls
from ..l2.vlan import PortVlans
from ..l2.vxlan import VxlanEndpoint, attach_tunnel
from ..net.capture import DEFAULT_EPOCH_NS, note_io
from ..net.network import Network
from ..net.spanning import enable_stp
from .macplan import given_macs, vm_macs
from .spec import GuestSpec, IoSpec, TopologySpec, VFSpec, Where


def build_network(spec: TopologySpec, *, capture_dir: str | os.PathLike | None = None, record: bool = True,
                  pcapng: bool = True, trace_limit: int = DEFAULT_TRACE_LIMIT,
                  capture_comment: str | None = None) -> Network:
    """Build the network described by ``spec``; open its captures in ``capture_dir`` if given.

    ``record``: keep every hop and delivery (``Network``), for tests and small runs; ``vswitch run`` does not,
    and its expectations watch only the frames they name. ``capture_comment``: the pcapng's section comment in
    place of "written by vswitch" (``vswitch live`` says there that its timestamps are the wall clock).

    Errors name the spec's place in its file (``lab.yaml:12:5: links[2]: ...``).
    """
    checks.instance(spec, TopologySpec, "build_network: spec (from load_topology)")
    if capture_dir is not None:
        checks.path(capture_dir, "build_network: capture_dir")
    checks.flag(record, "build_network: record")
    checks.flag(pcapng, "build_network: pcapng")
    epoch = spec.epoch_ns if spec.epoch_ns is not None else DEFAULT_EPOCH_NS
    net = Network(record=record, trace_limit=trace_limit, capture_dir=capture_dir or ".", epoch_ns=epoch)
    if capture_comment is not None:
        net.captures.comment = checks.text(capture_comment, "build_network: capture_comment")
    where = Where(spec.source)
    net.macs.avoid(given_macs(spec.hosts, spec.hypervisors))
    try:
        planned = iter(vm_macs(spec.hosts, spec.hypervisors))  # given or allocated: the loader's checks use these
        for sw in spec.switches:
            where = sw.where
            switch = net.add_switch(sw.name, ageing_ns=sw.ageing_ns, table_limit=sw.table_limit,
                                    table_policy=sw.table_policy, vlan_filtering=sw.vlan_filtering,
                                    vlan_protocol=sw.vlan_protocol, storm_limit=sw.storm_limit)
            for port_name, flags in sw.ports:
                port = switch.ports.get(port_name) or net.register_port(switch.add_port(port_name))
                for flag, value in flags:
                    setattr(port, flag, value)
            for port_name, tunnel in sw.vxlan:  # the port's cable is a tunnel: wired to its endpoint (l2/vxlan.py)
                attach_tunnel(switch.ports[port_name], VxlanEndpoint(f"{sw.name}.{port_name}", tunnel.vni,
                                                                     tunnel.remotes))
            for port_name, vlans in sw.port_vlans:
                switch.set_vlans(port_name, PortVlans.declared(vlans.pvid, vlans.vlans))
            for port_name, max_macs, violation in sw.port_security:
                switch.set_security(port_name, PortSecurity(max_macs, violation))
        for host in spec.hosts:
            where = host.where
            first, *more = host.nics
            nic = net.add_host(host.name, first.mac, ifname=first.name)
            for group in first.groups:
                nic.join(group)
            for extra in more:
                nic = net.add_nic(host.name, extra.mac, ifname=extra.name)
                for group in extra.groups:
                    nic.join(group)
        for hv in spec.hypervisors:
            where = hv.where
            net.add_hypervisor(hv.name, hv.mac, backend=hv.backend, mode=hv.mode,
                               mac_filter_size=hv.mac_filter_size, vlan_filtering=hv.vlan_filtering)
            for vlan in hv.vlans:
                where = vlan.where
                net.add_host_vlan(hv.name, vlan.vid, vlan.mac)
            for vm in hv.vms:
                where = vm.where
                vnic = net.add_vm(hv.name, vm.name, next(planned), prefix=vm.prefix, mode=vm.mode, vf=_vf(vm.vf),
                                  on=vm.on)
                vnic.port.io = io_account(vm.name, vm.io)
                for group in vm.groups:
                    vnic.join(group)
        for link in spec.links:
            where = link.where
            cable = net.connect(link.a, link.b, latency_ns=link.latency_ns, bandwidth_bps=link.bandwidth_bps,
                                queue_frames=link.queue_frames)
            for end, settings in ((cable.a_to_b, link.a_to_b), (cable.b_to_a, link.b_to_a)):
                if settings.active:
                    net.impair(end.port.full_name, settings, seed=spec.seed)
        for name, guest in _guests(spec):
            where = guest.where
            nic = net.nic(name)
            stack = GuestStack(nic.full_name, nic.mac, guest.interface, arp_timeout_ns=guest.arp_timeout_ns,
                               arp_notify=guest.arp_notify)
            if guest.ipv6 is not None:
                stack.ipv6 = Ipv6Stack(stack, guest.ipv6.addresses, link_local=guest.ipv6.link_local,
                                       dad_transmits=guest.ipv6.dad_transmits)
            attach_stack(net, name, stack)
        for sw in spec.switches:
            where = sw.where
            for mac, port_name, vid in sw.static:  # vid None: every VLAN the port carries
                net.switch(sw.name).add_static(mac.packed, port_name, vid)
        for sw in spec.switches:
            if sw.stp is not None:  # after cabling: every port takes part
                where = sw.where
                enable_stp(net, sw.name, priority=sw.stp.priority, hello_time_ns=sw.stp.hello_time_ns,
                           max_age_ns=sw.stp.max_age_ns, forward_delay_ns=sw.stp.forward_delay_ns,
                           ports={port: (priority, cost) for port, priority, cost in sw.stp.ports})
        if capture_dir is not None:
            if pcapng and spec.pcapng:
                where = Where(spec.source, path="captures.pcapng")
                net.capture_pcapng(spec.pcapng, label=str(where))
            for cap in spec.captures:
                where = cap.where
                net.capture(cap.point, cap.file, cap.direction, label=str(where))
    except OutputFolderError:  # --out's fault, not the capture point's
        net.close()
        raise
    except VSwitchError as exc:
        net.close()
        raise TopologyError(f"{where}: {exc}") from None
    return net


def io_account(vm: str, io: IoSpec | None) -> IoAccount | None:
    """The accounting of ``vm``'s I/O model (None for model none: the datapath then skips it)."""
    if io is None or io.model == "none":
        return None
    costs = CostTable(dict(io.costs), indirect_factor=io.indirect_factor, cpu_ghz=io.cpu_ghz)
    return IoAccount(vm, model_named(io.model, posted_interrupts=io.posted_interrupts), costs,
                     irq_coalesce_ns=io.irq_coalesce_ns)


def move_io(port: Port, vm: str, io: IoSpec | None) -> None:
    """``vm``'s vNIC ``port`` runs under ``io`` from now on (a migration, ``io_reader.io_after_move``): its
    account goes on under the new model (``none``: frames counted, no event), or one starts if it had none."""
    account = port.io
    if io is None or io.model == "none":
        if account is not None:
            account.move_to(model_named("none"), CostTable())
        return
    model = model_named(io.model, posted_interrupts=io.posted_interrupts)
    costs = CostTable(dict(io.costs), indirect_factor=io.indirect_factor, cpu_ghz=io.cpu_ghz)
    if account is None:
        account = port.io = IoAccount(vm, model, costs, irq_coalesce_ns=io.irq_coalesce_ns)
        account.models.insert(0, "none")
        note_io(port)  # a pcapng of the vNIC shows its frames' costs from now on
    else:
        account.move_to(model, costs, irq_coalesce_ns=io.irq_coalesce_ns)


def _vf(vf: VFSpec | None) -> VFControls | None:
    if vf is None:
        return None
    return VFControls(vlan=vf.vlan, qos=vf.qos, vlan_protocol=vf.vlan_protocol, spoofchk=vf.spoofchk,
                      trust=vf.trust, state=vf.state, max_tx_rate_mbps=vf.max_tx_rate_mbps)


def _guests(spec: TopologySpec) -> list[tuple[str, GuestSpec]]:
    """(interface, stack) for every NIC, vNIC and hypervisor host interface with an address."""
    found = [(f"{h.name}.{n.name}", n.guest) for h in spec.hosts for n in h.nics]
    found += [(f"{hv.name}.host", hv.guest) for hv in spec.hypervisors]
    found += [(f"{hv.name}.{v.vid}", v.guest) for hv in spec.hypervisors for v in hv.vlans]
    found += [(vm.name, vm.guest) for hv in spec.hypervisors for vm in hv.vms]
    return [(name, guest) for name, guest in found if guest is not None]
