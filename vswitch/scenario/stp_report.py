"""The spanning tree tables of a run (``l2/stp.py``): each bridge's root, each port's state and role, and what the
bridges logged (state changes, root changes, topology changes) with its time. Empty when no switch runs STP."""

from __future__ import annotations

from typing import Any

from ..core.units import format_duration
from ..l2.bpdu import bridge_id_str
from ..l2.stp_port import STATE_NAMES
from ..net.network import Network
from ..net.spanning import spanning_trees

EVENTS_SHOWN = 60  #: events the text report lists (the JSON report has them all)


def bridge_rows(net: Network) -> list[dict[str, Any]]:
    rows = []
    for name, stp in spanning_trees(net).items():
        rows.append({"switch": name, "bridge id": bridge_id_str(stp.bridge_id),
                     "role": "root" if stp.is_root_bridge() else "non-root",
                     "root": bridge_id_str(stp.designated_root), "root port": stp.root_port_name() or "-",
                     "root path cost": stp.root_path_cost,
                     "topology change": "yes" if stp.topology_change else "no", "bpdus sent": stp.bpdus_sent})
    return rows


def port_rows(net: Network) -> list[dict[str, Any]]:
    rows = []
    for name, stp in spanning_trees(net).items():
        for p in stp.ports:
            rows.append({"port": p.port.full_name, "number": p.port_no, "port id": f"{p.port_id:04x}",
                         "state": STATE_NAMES[p.state], "role": stp.role(p), "path cost": p.path_cost,
                         "designated bridge": bridge_id_str(p.designated_bridge) if p.designated_bridge else "-"})
    return rows


def event_rows(net: Network, machine: bool = False) -> list[dict[str, Any]]:
    """What the bridges logged, in time order (per time, switches in the network's order)."""
    events = [e for stp in spanning_trees(net).values() for e in stp.log]
    order = {name: index for index, name in enumerate(net.switches)}
    events.sort(key=lambda e: (e.time_ns, order[e.switch]))
    return [{"time": format_duration(e.time_ns), **({"time_ns": e.time_ns} if machine else {}), "switch": e.switch,
             "event": e.text} for e in events]


def stp_tables(net: Network) -> list[tuple[str, list[dict[str, Any]]]]:
    """(title, rows) of the text report."""
    events = event_rows(net)
    title = "Spanning tree events"
    if len(events) > EVENTS_SHOWN:
        title += f" (the first {EVENTS_SHOWN} of {len(events)}; --format json has them all)"
    return [("Spanning tree bridges", bridge_rows(net)), ("Spanning tree ports", port_rows(net)),
            (title, events[:EVENTS_SHOWN])]


def stp_json(net: Network) -> dict[str, Any]:
    """``stp`` of the JSON report (docs/json.md)."""
    keyed = [{key.replace(" ", "_"): value for key, value in row.items()} for row in bridge_rows(net)]
    for row in keyed:
        row["topology_change"] = row["topology_change"] == "yes"
    ports = [{key.replace(" ", "_"): value for key, value in row.items()} for row in port_rows(net)]
    return {"bridges": keyed, "ports": ports, "events": event_rows(net, machine=True)}
