"""Tables of a network after a run: MAC tables, demultiplexing tables, counters, checks and a summary.

Each ``*_rows`` function returns plain rows; ``render`` lays them out with tabulate. The JSON output
(``report_json.py``) reuses some and builds its own where a machine wants numbers (times in ns, drops by reason).
"""

from __future__ import annotations

from typing import Any, Iterator

from tabulate import tabulate

from ..core.mac import MACAddress
from ..core.reasons import by_reason
from ..core.units import count, format_duration
from ..l2.port import Port
from ..l2.vxlan import endpoints
from ..net.network import Network
from .io_report import io_rows
from .ipv6_report import ipv6_rows, neighbour_rows
from .runner import RunResult
from .security_report import security_tables
from .stp_report import stp_tables


def mac_table_rows(net: Network) -> list[dict[str, Any]]:
    rows = []
    for name in sorted(net.switches):
        for row in net.switches[name].table.rows(net.now):
            rows.append({"switch": name, "vlan": row.vlan, "mac": row.mac, "port": row.port,
                         "age": "-" if row.static else format_duration(row.age_ns),
                         "type": "static" if row.static else "learned"})
    return rows


def mac_move_rows(result: RunResult) -> list[dict[str, Any]]:
    """The MAC moves of the run, in time order (the first ``MAC_MOVES_KEPT``)."""
    return [{"time": format_duration(m.time_ns), "switch": m.switch, "vlan": m.vlan, "mac": m.mac,
             "from": m.from_port, "to": m.to_port} for m in result.mac_moves.kept]


def demux_rows(net: Network) -> list[dict[str, Any]]:
    rows = []
    for name in sorted(net.hypervisors):
        hypervisor = net.hypervisors[name]
        if hypervisor.adapter is None:
            continue
        rows.append({"adapter": name, "mac": str(hypervisor.host.mac), "destination": f"{name}.host (own)",
                     "mode": "-", "vendor": hypervisor.host.mac.vendor})
        for vid, nic in sorted(hypervisor.adapter.interfaces.items()):  # eth0.N: the misses of VLAN N
            rows.append({"adapter": name, "mac": str(nic.mac), "destination": f"{nic.full_name} (own, VLAN {vid})",
                         "mode": "-", "vendor": nic.mac.vendor})
        stacked = {v.full_name: f" (on {name}.{v.lower_vid})" for v in hypervisor.adapter.vnics.values()
                   if v.lower_vid}
        for mac, vnic, mode in hypervisor.adapter.demux_table():
            rows.append({"adapter": name, "mac": mac, "destination": vnic + stacked.get(vnic, ""), "mode": mode,
                         "vendor": MACAddress(mac).vendor})
    return rows


def counted_interfaces(net: Network) -> list[tuple[str, Port]]:
    """(row name, port) of every interface, sorted by name; a port removed mid-run (a migrated VM's vif) as
    ``NAME (removed)``."""
    named = [(port.full_name, port) for port in net.interfaces()]
    named += [(f"{port.full_name} (removed)", port) for port in net.removed_ports]
    return sorted(named, key=lambda item: item[0])


def counter_rows(net: Network) -> list[dict[str, Any]]:
    """One row per interface (``counted_interfaces``). Drops inside a hypervisor are on the interface they concern
    (``wire_internal``): the rows' drops add up to the summary's."""
    rows = []
    for name, port in counted_interfaces(net):
        c = port.counters
        drops = {**{f"rx {r.name.lower()}": n for r, n in c.rx_dropped.items()},
                 **{f"tx {r.name.lower()}": n for r, n in c.tx_dropped.items()}}
        rows.append({"interface": name, "rx_packets": c.rx_packets, "rx_bytes": c.rx_bytes,
                     "tx_packets": c.tx_packets, "tx_bytes": c.tx_bytes,
                     "drops": ", ".join(f"{k}={v}" for k, v in sorted(drops.items())) or "-"})
    return rows


def check_rows(result: RunResult) -> list[dict[str, Any]]:
    return [{"result": "PASS" if c.passed else "FAIL", "expectation": c.description, "actual": c.actual,
             "at": format_duration(c.at_ns), "where": f"line {c.where.line}" if c.where.line else ""}
            for c in result.checks]


def guest_stacks(net: Network) -> Iterator[tuple[Port, Any]]:
    """(interface, guest stack) for every NIC or vNIC that has a stack, sorted by interface."""
    for port in net.interfaces():
        guest = getattr(getattr(port.node, "stack", None), "guest", None)  # a live station has none
        if guest is not None and port is port.node.port:
            yield port, guest


def session_rows(result: RunResult) -> list[dict[str, Any]]:
    """ping, arping and udp runs in the order they started, with ping's summary figures."""
    return [session.summary() for session in result.sessions.values()]


def arp_rows(net: Network) -> list[dict[str, Any]]:
    """Every guest stack's live ARP entries (``ip neigh``), by interface then address."""
    rows = []
    for port, guest in guest_stacks(net):
        for row in guest.arp.rows(net.now):
            rows.append({"interface": port.full_name, "address": str(guest.interface), "neighbour": row.ip,
                         "mac": row.mac, "age": format_duration(row.age_ns),
                         "expires in": format_duration(row.expires_in_ns)})
    return rows


def stack_rows(net: Network) -> list[dict[str, Any]]:
    """Per guest stack: its address and what it answered, sent and dropped."""
    rows = []
    for port, guest in guest_stacks(net):
        c = guest.counters
        dropped = sum(c[k] for k in ("dropped_unresolved", "bad_ip_header", "bad_checksum", "bad_udp_length",
                                     "no_route"))
        rows.append({"interface": port.full_name, "address": str(guest.interface or "- (IPv6 only)"),
                     "mac": str(guest.mac),
                     "arp req/rep out": f"{c['arp_requests_sent']}/{c['arp_replies_sent']}",
                     "arp req/rep in": f"{c['arp_requests_received']}/{c['arp_replies_received']}",
                     "garp out": c["gratuitous_arp_sent"],
                     "echo req in/rep out": f"{c['echo_requests_received']}/{c['echo_replies_sent']}",
                     "udp in": c["udp_received"], "port unreach out": c["port_unreachable_sent"],
                     "bad checksum": c["bad_checksum"] + c["bad_ip_header"],  # a bit flipped on a link, say
                     "dropped": dropped, "ignored": c["ignored"] + c["not_our_address"]})
    return rows


def impairment_rows(net: Network) -> list[dict[str, Any]]:
    """Each impaired link direction (``l2/impair.py``): what it did to the frames that crossed it."""
    rows = []
    for link in net.links:
        for end in (link.a_to_b, link.b_to_a):
            if end.impair is not None:
                rows.append({"from": end.port.label, "to": end.far.label, **end.impair.rates()})
    return sorted(rows, key=lambda row: (row["from"], row["to"]))


def tunnel_rows(net: Network) -> list[dict[str, Any]]:
    """Each VXLAN port's tunnel (``l2/vxlan.py``): datagrams each way and the remote VTEPs learned per MAC."""
    return [endpoint.row(net.now) for endpoint in endpoints(net.switches[name] for name in sorted(net.switches))]


def summary(net: Network, result: RunResult | None = None) -> dict[str, Any]:
    stats = net.stats
    data: dict[str, Any] = {
        "frames_sent": stats.injected, "copies_made": stats.copies, "delivered": stats.delivered,
        "dropped": stats.dropped_total, "in_flight": stats.in_flight, "virtual_time": format_duration(net.now), "virtual_time_ns": net.now,
        "drops_by_reason": by_reason(stats.dropped),
    }
    if result is not None and result.warnings:
        data["warnings"] = len(result.warnings)
    if result is not None:
        data["mac_moves"] = result.mac_moves.total
        data["expectations_passed"] = sum(c.passed for c in result.checks)
        data["expectations_failed"] = sum(not c.passed for c in result.checks)
    return data


def summary_line(data: dict[str, Any]) -> str:
    line = (f"{count(data['frames_sent'], 'frame')} sent, {count(data['copies_made'], 'extra copy', 'extra copies')}, "
            f"{data['delivered']} delivered, {data['dropped']} dropped, {data['in_flight']} in flight at "
            f"{data['virtual_time']}")
    if data.get("warnings"):
        line += f"; {count(data['warnings'], 'warning')}"
    if "expectations_passed" in data:
        total = data["expectations_passed"] + data["expectations_failed"]
        line += f"; expectations: {data['expectations_passed']}/{total} passed"
    return line


def render(net: Network, result: RunResult, *, quiet: bool = False) -> str:
    """The human report: tables (unless ``quiet``), failed checks spelled out, and the summary line."""
    parts = []
    if not quiet:
        for title, rows in (("MAC tables", mac_table_rows(net)), ("MAC moves", mac_move_rows(result)),
                            ("Adapter demultiplexing", demux_rows(net)),
                            *((title, rows) for _, title, rows in security_tables(net)),
                            *stp_tables(net),
                            ("Interface counters", counter_rows(net)),
                            ("Link impairments (frames each way)", impairment_rows(net)),
                            ("VXLAN tunnels", tunnel_rows(net)),
                            ("Guest stacks", stack_rows(net)), ("ARP caches", arp_rows(net)),
                            ("IPv6", ipv6_rows(guest_stacks(net))),
                            ("IPv6 neighbour caches", neighbour_rows(guest_stacks(net), net.now)),
                            ("Pings, arpings and UDP senders", session_rows(result)),
                            *((r.title(), r.matrix_rows()) for r in result.reachability),
                            ("Streams", list(result.streams.values())),
                            ("Replays", [r.summary() for r in result.replays]),
                            ("Migrations", [m.summary() for m in result.migrations]),
                            ("I/O models (per VM)", io_rows(net)),
                            ("Expectations", check_rows(result))):
            if rows:
                parts.append(f"{title}\n{tabulate(rows, headers='keys', tablefmt='simple')}")
            if title == "MAC moves" and result.mac_moves.total > len(rows):
                parts[-1] += (f"\n... and {result.mac_moves.total - len(rows):,} more moves (the first "
                              f"{len(rows):,} are listed)")
    for warning in result.warnings:
        parts.append(f"WARNING {warning}")
    failed = [c for c in result.checks if not c.passed]
    for check in failed:
        parts.append(f"FAILED {check.where}: expected {check.description}; got {check.actual}")
    parts.append(summary_line(summary(net, result)))
    return "\n\n".join(parts)
