"""``vswitch run --format json``: the report as data for machines, versioned (``SCHEMA_VERSION``).

docs/json.md documents every key and docs/report.schema.json is its JSON Schema. Keys are snake_case; a time or
an age is an integer number of nanoseconds (``age_ns``) beside its text (``age``); drops are ``{reason: count}``
objects with the reasons' lower-case names (``same_port``), as the ``counter`` expectation writes them. A change
that removes or renames a key, or changes a value's type, raises ``SCHEMA_VERSION``; new keys do not.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from .io_report import io_json
from .ipv6_report import ipv6_json
from ..core.reasons import by_reason
from ..core.units import format_duration
from ..l2.vxlan import endpoints
from ..net.network import Network
from .context import RunResult
from .report import counted_interfaces, demux_rows, guest_stacks, impairment_rows, summary
from .security_report import security_tables
from .stp_report import stp_json

SCHEMA_VERSION = 1


def _key(header: str) -> str:
    """A table header as a JSON key: ``"announce frames"`` -> ``"announce_frames"``."""
    return re.sub(r"[^a-z0-9]+", "_", header.lower()).strip("_")


def _keys(row: dict[str, Any]) -> dict[str, Any]:
    return {_key(k): v for k, v in row.items()}


def _time(key: str, ns: Optional[int]) -> dict[str, Any]:
    """``{key: text, key_ns: ns}`` (both null when there is no such time)."""
    return {key: None if ns is None else format_duration(ns), f"{key}_ns": ns}


def mac_tables(net: Network) -> list[dict[str, Any]]:
    """Every live entry of every switch (host bridges included); a static entry has no age."""
    return [{"switch": name, "vlan": row.vlan, "mac": row.mac, "port": row.port,
             "type": "static" if row.static else "learned", **_time("age", None if row.static else row.age_ns)}
            for name in sorted(net.switches) for row in net.switches[name].table.rows(net.now)]


def mac_moves(result: RunResult) -> list[dict[str, Any]]:
    """The first moves of learned MACs, in time order (``summary.mac_moves`` counts them all)."""
    return [{**_time("time", m.time_ns), "switch": m.switch, "vlan": m.vlan, "mac": m.mac, "from": m.from_port,
             "to": m.to_port} for m in result.mac_moves.kept]


def counters(net: Network) -> list[dict[str, Any]]:
    """Per interface, as the text table's rows: packets, bytes, and drops by reason each way."""
    rows = []
    for name, port in counted_interfaces(net):
        c = port.counters
        rows.append({"interface": name, "rx_packets": c.rx_packets, "rx_bytes": c.rx_bytes,
                     "tx_packets": c.tx_packets, "tx_bytes": c.tx_bytes,
                     "rx_dropped": by_reason(c.rx_dropped), "tx_dropped": by_reason(c.tx_dropped)})
    return rows


def expectations(result: RunResult) -> list[dict[str, Any]]:
    return [{"result": "PASS" if c.passed else "FAIL", "passed": c.passed, "expectation": c.description,
             "actual": c.actual, **_time("at", c.at_ns), "where": str(c.where), "line": c.where.line or None}
            for c in result.checks]


def _session(session: Any) -> dict[str, Any]:
    row = session.summary()
    rtt = session.rtt_ns()
    answered = row["received"] != "-"  # a UDP sender to a port without an echo service has no answers to count
    return {"name": row["name"], "kind": row["kind"], "from": row["from"], "to": row["to"],
            "to_address": str(session.dst_ip), "transmitted": session.transmitted,
            "received": session.received if answered else None, "loss": row["loss"] if answered else None,
            "errors": session.errors, "late": session.late, "duplicates": session.duplicates,
            "rtt": None if rtt is None else row["rtt min/avg/max/mdev"],
            "rtt_ns": None if rtt is None else dict(zip(("min", "avg", "max", "mdev"), rtt))}


def guests(net: Network, result: RunResult) -> dict[str, Any]:
    stacks, caches = [], []
    for port, guest in guest_stacks(net):
        address = None if guest.interface is None else str(guest.interface)  # None: IPv6 only
        stacks.append({"interface": port.full_name, "address": address, "mac": str(guest.mac),
                       "counters": dict(sorted(guest.counters.items()))})
        caches += [{"interface": port.full_name, "address": address, "neighbour": row.ip,
                    "mac": row.mac, **_time("age", row.age_ns), **_time("expires_in", row.expires_in_ns)}
                   for row in guest.arp.rows(net.now)]
    return {"sessions": [_session(s) for s in result.sessions.values()], "stacks": stacks, "arp_caches": caches,
            **ipv6_json(guest_stacks(net), net.now),
            "streams": [_keys(row) for row in result.streams.values()],
            "replays": [{**_keys(r.summary()), "first_ns": r.first_ns, "last_ns": r.last_ns} for r in result.replays],
            "migrations": [{**_keys(m.summary()), "detached_ns": m.detached_ns, "attached_ns": m.attached_ns}
                           for m in result.migrations],
            "reachability": [r.as_json() for r in result.reachability]}


def as_json(net: Network, result: RunResult) -> dict[str, Any]:
    """The whole report as plain data (docs/json.md)."""
    return {"schema_version": SCHEMA_VERSION, "summary": summary(net, result), "mac_tables": mac_tables(net),
            "mac_moves": mac_moves(result), "adapters": demux_rows(net), "counters": counters(net),
            "security": {key: [_keys(row) for row in rows] for key, _, rows in security_tables(net, machine=True)},
            "impairments": impairment_rows(net), "stp": stp_json(net), "expectations": expectations(result),
            "frames": {name: {"count": len(ids), "ids": ids.runs()} for name, ids in sorted(result.frames.items())},
            "guests": guests(net, result), "io": io_json(net), "vxlan": vxlan(net), "warnings": list(result.warnings)}


def vxlan(net: Network) -> list[dict[str, Any]]:
    """Per VXLAN port, by name: its tunnel's datagrams each way and the remote VTEPs learned per MAC."""
    return [{"port": e.name, "vni": e.vni, "remotes": list(e.table.remotes), "datagrams_out": e.datagrams_sent,
             "lost": e.datagrams_lost, "in": e.datagrams_received, "ignored": dict(sorted(e.ignored.items())),
             "learned": [{"mac": mac, "remote": remote, **_time("age", age)}
                         for mac, remote, age in e.table.rows(net.now)]}
            for e in endpoints(net.switches[name] for name in sorted(net.switches))]
