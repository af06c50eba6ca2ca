"""The report's IPv6 tables: each stack's addresses and neighbour discovery figures, and its neighbour cache
(``ip -6 neigh``). Rows are plain dicts, for the text, HTML and JSON reports alike."""

from __future__ import annotations

from ipaddress import IPv6Address
from typing import Any, Iterable

Stacks = Iterable[tuple[Any, Any]]  # (port, GuestStack), as report.guest_stacks gives them


def _addresses(ipv6: Any) -> str:
    """Each address with its prefix, marked when DAD has not finished (tentative) or found it in use."""
    marks = []
    for interface in ipv6.interfaces:
        packed = interface.ip.packed
        mark = " (dadfailed)" if packed in ipv6.duplicates else " (tentative)" if packed in ipv6.tentative else ""
        marks.append(f"{interface}{mark}")
    return ", ".join(marks)


def ipv6_rows(stacks: Stacks) -> list[dict[str, Any]]:
    """Per stack with IPv6: its addresses and what its IPv6 half sent, answered and dropped."""
    rows = []
    for port, guest in stacks:
        ipv6 = guest.ipv6
        if ipv6 is None:
            continue
        c = guest.counters
        rows.append({"interface": port.full_name, "addresses": _addresses(ipv6),
                     "groups": ", ".join(str(IPv6Address(g)) for g in ipv6.groups),
                     "ns out/in": f"{c['ns_sent']}/{c['ns_received']}",
                     "na out/in": f"{c['na_sent']}/{c['na_received']}",
                     "dad ns": c["dad_ns_sent"], "dad failed": c["dad_failed"], "mld reports": c["mld_reports_sent"],
                     "unsolicited na": c["unsolicited_na_sent"],
                     "echo req in/rep out": f"{c['echo6_requests_received']}/{c['echo6_replies_sent']}",
                     "udp in": c["udp6_received"],
                     "dropped": sum(c[k] for k in ("dropped_unresolved6", "no_source_address", "bad_nd",
                                                   "bad_ipv6_header"))})
    return rows


def neighbour_rows(stacks: Stacks, now: int) -> list[dict[str, Any]]:
    """Every IPv6 stack's neighbour entries with their state at ``now``, by interface then address."""
    rows = []
    for port, guest in stacks:
        if guest.ipv6 is not None:
            rows += [{"interface": port.full_name, "neighbour": row.ip, "mac": row.mac or "-", "state": row.state}
                     for row in guest.ipv6.neighbours.rows(now)]
    return rows


def ipv6_json(stacks: Stacks, now: int) -> dict[str, list[dict[str, Any]]]:
    """The JSON report's ``ipv6`` and ``neighbour_caches`` (docs/json.md); the counters are the stack's."""
    interfaces, caches = [], []
    for port, guest in stacks:
        ipv6 = guest.ipv6
        if ipv6 is None:
            continue
        interfaces.append({"interface": port.full_name, "addresses": [str(i) for i in ipv6.interfaces],
                           "tentative": [str(IPv6Address(a)) for a in sorted(ipv6.tentative)],
                           "dad_failed": [str(IPv6Address(a)) for a in sorted(ipv6.duplicates)],
                           "groups": [str(IPv6Address(g)) for g in ipv6.groups]})
        caches += [{"interface": port.full_name, "neighbour": row.ip, "mac": row.mac or None, "state": row.state}
                   for row in ipv6.neighbours.rows(now)]
    return {"ipv6": interfaces, "neighbour_caches": caches}
