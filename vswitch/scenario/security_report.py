"""Report tables for the security features: VLANs, SR-IOV VFs, adapter MAC filters, table limits, port security
and loops. Each ``*_rows`` returns plain rows; a table is empty when the run did not use the feature, and
``report.render`` then leaves it out. With ``machine=True`` (the JSON output, ``report_json.py``) a row holds
times as integer ns beside their text and drops as ``{reason: count}``.
"""

from __future__ import annotations

from typing import Any

from ..core.reasons import by_reason
from ..core.units import format_duration
from ..net.network import Network


def vlan_rows(net: Network) -> list[dict[str, Any]]:
    """Every port of a VLAN-filtering switch (host bridges included) with its VLANs."""
    rows = []
    for name in sorted(net.switches):
        switch = net.switches[name]
        if not switch.vlan_filtering:
            continue
        for port in switch._port_list:
            rows.append({"switch": name, "port": port.name, "protocol": switch.vlan_protocol,
                         "vlans": port.vlans.describe()})
    return rows


def vf_rows(net: Network, machine: bool = False) -> list[dict[str, Any]]:
    """vNICs with SR-IOV controls set or used: settings, link, rx modes, refused requests and drops."""
    rows = []
    for name in sorted(net.vnics):
        vnic = net.vnics[name]
        vf = vnic.vf
        if vf.is_default() and vf.trust is None and not any(vf.refused.values()):
            continue
        hypervisor = net.hypervisors.get(vnic.hypervisor or "")
        adapter = hypervisor.adapter if hypervisor is not None else None
        drops = vnic.port.counters.tx_dropped
        modes = [m for m in ("promiscuous", "allmulti") if getattr(vnic, m)]
        rows.append({"vnic": vnic.full_name, "settings": vf.describe(),
                     "link": "down" if adapter is not None and not adapter.vnic_link_up(vnic) else "up",
                     "rx mode": ", ".join(modes) or "-",
                     "refused requests": ", ".join(f"{k} {n}" for k, n in vf.refused.items() if n) or "-",
                     **({"tx dropped": by_reason(drops)} if machine else
                        {"tx drops": ", ".join(f"{r}={n}" for r, n in by_reason(drops).items()) or "-"})})
    return rows


def filter_rows(net: Network) -> list[dict[str, Any]]:
    """Adapters with a finite MAC filter: entries used, and whether it overflowed into accept-all."""
    rows = []
    for name in sorted(net.hypervisors):
        adapter = net.hypervisors[name].adapter
        if adapter is None or adapter.mac_filter_size is None:
            continue
        overflow = adapter.filter_overflow
        state = ("overflow: accepting every frame, demultiplexing in software" if overflow
                 else "exact: unicast no vNIC owns is dropped by the NIC")
        if adapter.promiscuous_vnic is not None:
            state += f"; misses to the trusted promiscuous {adapter.promiscuous_vnic.full_name}"
        rows.append({"adapter": name, "entries": f"{adapter.filter_entries()} of {adapter.mac_filter_size}",
                     "filter": state})
    return rows


def table_limit_rows(net: Network) -> list[dict[str, Any]]:
    """Switches with a table limit: how full, what was refused or evicted, and the ports holding most entries."""
    rows = []
    for name in sorted(net.switches):
        table = net.switches[name].table
        if table.limit is None:
            continue
        rows_now = table.rows(net.now)
        per_port: dict[str, int] = {}
        for row in rows_now:
            per_port[row.port] = per_port.get(row.port, 0) + 1
        busiest = sorted(per_port.items(), key=lambda item: (-item[1], item[0]))[:4]
        rows.append({"switch": name, "policy": table.policy.value, "entries": f"{len(rows_now)} of {table.limit}",
                     "refused": table.refused, "evicted": table.evicted,
                     "entries per port": ", ".join(f"{p}: {n}" for p, n in busiest) or "-"})
    return rows


def port_security_rows(net: Network, machine: bool = False) -> list[dict[str, Any]]:
    rows = []
    for name in sorted(net.switches):
        for port in net.switches[name]._port_list:
            security = port.security
            if security is None:
                continue
            state = "up"
            if port.shut_down:
                state = f"shut down at {format_duration(security.shut_down_ns or 0)}"
            elif security.shut_down_ns is not None:
                state = f"up (shut down at {format_duration(security.shut_down_ns)}, reopened)"
            rows.append({"port": port.full_name, "limit": security.describe(),
                         "learned": net.switches[name].table.learned_on(port.name),
                         "violations": security.violations, "state": state,
                         **({"shut_down_ns": security.shut_down_ns} if machine else {})})
    return rows


def loop_rows(net: Network, machine: bool = False) -> list[dict[str, Any]]:
    """Each switch port a frame came back to: a loop, with the first such frame and the storm drops."""
    rows = []
    for name in sorted(net.switches):
        storm = net.switches[name].storm
        for loop in storm.loop_ports.values():
            rows.append({"switch port": loop.port, "first frame back": loop.frame_id,
                         "at": format_duration(loop.time_ns), **({"at_ns": loop.time_ns} if machine else {}),
                         "storm limit": storm.limit,
                         "copies dropped at the switch": storm.dropped})
    return rows


def security_tables(net: Network, machine: bool = False) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(JSON key, title, rows) of every table, in report order (``machine``: the rows of the JSON output)."""
    return [("vlans", "VLANs", vlan_rows(net)), ("sriov_vnics", "SR-IOV vNICs", vf_rows(net, machine)),
            ("adapter_mac_filters", "Adapter MAC filters", filter_rows(net)),
            ("table_limits", "Table limits", table_limit_rows(net)),
            ("port_security", "Port security", port_security_rows(net, machine)),
            ("loops", "Loops (no STP): switch ports frames came back to", loop_rows(net, machine))]
