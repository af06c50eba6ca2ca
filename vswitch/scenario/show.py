"""What ``vswitch show`` prints: a topology as built, before it runs.

Each ``*_rows`` function returns plain rows, one dict per switch, port, static entry or interface. A setting only
some files use (VLANs, port security, SR-IOV controls, MAC filters...) is a column only when some row sets it to
other than its default, so that a file using none of them shows what it always did.
"""

from __future__ import annotations

from typing import Any, Iterable

from tabulate import tabulate

from ..core.units import count, format_duration, format_rate
from ..l2.fdb import DEFAULT_AGEING_NS
from ..l2.port import DEFAULT_QUEUE_FRAMES, LinkEnd
from ..l2.storm import DEFAULT_STORM_LIMIT
from ..net.network import Network
from ..topology.spec import TopologySpec

NONE = "-"


def _relevant(rows: list[dict[str, Any]], defaults: dict[str, Any]) -> list[dict[str, Any]]:
    """``rows`` without the columns of ``defaults`` that hold their default value in every row."""
    unused = {key for key, default in defaults.items() if all(row[key] == default for row in rows)}
    return [{key: value for key, value in row.items() if key not in unused} for row in rows]


def _switches(net: Network) -> Iterable[str]:
    """The switches of the file's ``switches`` section (a host bridge is shown with its hypervisor)."""
    return (name for name in sorted(net.switches) if name not in net.hypervisors)


def switch_rows(net: Network) -> list[dict[str, Any]]:
    """Per switch: ageing, table limit, VLAN filtering (with its protocol) and storm limit."""
    rows = []
    for name in _switches(net):
        switch = net.switches[name]
        table = switch.table
        rows.append({"switch": name, "ageing": format_duration(table.ageing_ns),
                     "table_limit": NONE if table.limit is None else f"{table.limit} ({table.policy.value})",
                     "vlan_filtering": f"on, {switch.vlan_protocol}" if switch.vlan_filtering else "off",
                     "storm_limit": switch.storm.limit})
    return _relevant(rows, {"ageing": format_duration(DEFAULT_AGEING_NS), "table_limit": NONE,
                            "vlan_filtering": "off", "storm_limit": DEFAULT_STORM_LIMIT})


def port_rows(net: Network) -> list[dict[str, Any]]:
    """Per switch port: its peer, the flags changed from their defaults, its VLANs and its port security."""
    rows = []
    for name in _switches(net):
        switch = net.switches[name]
        for port_name, port in sorted(switch.ports.items()):
            wire = port.peer
            peer = ("(not connected)" if wire is None else wire.far.full_name if isinstance(wire, LinkEnd)
                    else str(wire.node))  # an internal wire: a VXLAN port's tunnel (l2/vxlan.py)
            flags = ", ".join(f for f, v in port.flags().items() if v != (f not in ("hairpin", "isolated")))
            vlans, security = port.vlans, port.security
            rows.append({"switch port": port.full_name, "connected to": peer, "flags changed": flags or NONE,
                         "pvid": NONE if not switch.vlan_filtering else vlans.pvid or "none",
                         "vlans": vlans.members() if switch.vlan_filtering else NONE,
                         "max_macs": NONE if security is None else security.max_macs,
                         "violation": NONE if security is None else security.violation})
    return _relevant(rows, {"pvid": NONE, "vlans": NONE, "max_macs": NONE, "violation": NONE})


def static_rows(net: Network) -> list[dict[str, Any]]:
    """Per static entry (``bridge fdb add ... static``): its MAC, port and, on a VLAN-filtering switch, VLANs."""
    rows = []
    for name in _switches(net):
        switch = net.switches[name]
        entries: dict[tuple[str, str], list[int]] = {}
        for row in switch.table.rows(net.now):
            if row.static:
                entries.setdefault((row.mac, row.port), []).append(row.vlan)
        for (mac, port), vids in sorted(entries.items()):
            rows.append({"switch": name, "static MAC": mac, "port": port,
                         "vlans": ", ".join(map(str, vids)) if switch.vlan_filtering else NONE})
    return _relevant(rows, {"vlans": NONE})


def link_rows(net: Network) -> list[dict[str, Any]]:
    """Per link with a latency, bandwidth or queue of its own: its ends and those settings (none: no table)."""
    rows = [{"link": link.name, "latency": format_duration(link.latency_ns),
             "bandwidth": NONE if link.bandwidth_bps is None else format_rate(link.bandwidth_bps),
             "queue": f"{link.queue_frames} frames"} for link in net.links]
    defaults = {"latency": format_duration(0), "bandwidth": NONE, "queue": f"{DEFAULT_QUEUE_FRAMES} frames"}
    rows = _relevant(rows, defaults)
    return rows if rows and len(rows[0]) > 1 else []


_VF_DEFAULTS = {"vlan": NONE, "spoofchk": "off", "trust": NONE, "state": NONE, "max_tx_rate": NONE}
_MACHINE_DEFAULTS = {"IPv4": NONE, "IPv6": NONE, **_VF_DEFAULTS, "mac_filter_size": NONE}


def machine_rows(net: Network) -> list[dict[str, Any]]:
    """Per interface of a host, hypervisor or VM: MAC, vendor, where it is attached, and its IPv4 address, the
    SR-IOV controls of vNICs and the MAC filter of adapters when the file sets them."""
    rows = []
    for name in sorted(net.hypervisors):
        hv = net.hypervisors[name]
        if hv.adapter:
            how = f"adapter, mode {hv.mode}"
        else:
            how = "host bridge, vlan_filtering" if hv.bridge is not None and hv.bridge.vlan_filtering else "host bridge"
        size = hv.adapter.mac_filter_size if hv.adapter else None
        rows.append(_machine(name, "-", hv.host, how, mac_filter_size=NONE if size is None else size))
        for vid, vlan_nic in sorted(hv.adapter.interfaces.items()) if hv.adapter else ():
            rows.append(_machine(name, "-", vlan_nic, f"adapter, VLAN {vid} (eth0.{vid})"))
        for vm_name, vnic in sorted(hv.vms.items()):
            vif = hv.vif_of(vnic)  # a VM without a macvlan mode is on the host bridge, through its vif
            where = f"mode {vnic.mode}" if vnic.mode or vif is None else f"port {vif.full_name}"
            where += f", on {name}.{vnic.lower_vid}" if vnic.lower_vid else ""
            vf = vnic.vf
            rows.append(_machine(name, vm_name, vnic, f"{name} ({where})", vlan=vf.describe_vlan() or NONE,
                                 spoofchk="on" if vf.spoofchk else "off",
                                 trust=NONE if vf.trust is None else ("on" if vf.trust else "off"),
                                 state=vf.state or NONE,
                                 max_tx_rate=f"{vf.max_tx_rate_mbps}Mbps" if vf.max_tx_rate_mbps else NONE))
    for name in sorted(net.hosts):
        for nic in net.hosts[name]:
            rows.append(_machine(name, "-", nic, "physical host"))
    rows = _relevant(rows, _MACHINE_DEFAULTS)
    for row in rows:  # a vNIC's setting means nothing on a host's or hypervisor's own interface
        row.update((key, NONE) for key in _VF_DEFAULTS if key in row and row["VM"] == "-")
    return rows


def _machine(machine: str, vm: str, nic: Any, attached: str, **settings: Any) -> dict[str, Any]:
    """A row of ``machine_rows``: the interface, then every optional setting (its default where not given)."""
    stack = getattr(nic.stack, "guest", None)  # the interface's stack, when the file gives it an address
    settings.setdefault("IPv4", NONE if stack is None or stack.interface is None else str(stack.interface))
    ipv6 = getattr(stack, "ipv6", None)
    settings.setdefault("IPv6", NONE if ipv6 is None else ", ".join(str(i) for i in ipv6.interfaces))
    return {"machine": machine, "VM": vm, "interface": nic.full_name, "MAC": str(nic.mac), "vendor": nic.mac.vendor,
            "attached to": attached, **{key: settings.get(key, default) for key, default in _MACHINE_DEFAULTS.items()}}


def render_show(spec: TopologySpec, net: Network) -> str:
    """The whole ``vswitch show`` output: title line, tables, and the count of actions and expectations."""
    parts = [f"{spec.name}: {spec.description}".rstrip(": ") if spec.description else spec.name]
    switches = switch_rows(net)
    if switches and len(switches[0]) > 1:  # a column beyond the name: some switch has a setting to show
        parts.append(tabulate(switches, headers="keys", disable_numparse=True))
    for rows in (port_rows(net), link_rows(net), static_rows(net)):
        if rows:
            parts.append(tabulate(rows, headers="keys", disable_numparse=True))
    machines = machine_rows(net)
    if machines:
        parts.append(tabulate(machines, headers="keys", disable_numparse=True))
    parts.append(f"{count(len(spec.scenario), 'scenario action')}, {count(len(spec.expectations), 'expectation')}")
    return "\n\n".join(parts)
