"""The expectations on frames, MAC tables and counters: ``delivered``, ``not_delivered``, ``dropped``, ``table``,
``table_size`` and ``counter``. Each takes the run's context and the expectation's arguments and returns
``(description, passed, actual)``.
"""

from __future__ import annotations

from typing import Any, Callable

from ..core.errors import ScenarioError
from ..core.mac import MACAddress
from ..core.reasons import DropReason
from .context import ScenarioContext


def _ids(context: ScenarioContext, name: str) -> list[int]:
    ids = context.result.frames.get(name)
    if ids is None:
        known = ", ".join(sorted(context.result.frames)) or "none yet"
        raise ScenarioError(f"no frame named {name!r} was sent (named frames: {known})")
    return ids


def _receivers(context: ScenarioContext, name: str) -> list[set[str]]:
    return [set(context.net.trace.delivered_to(i)) for i in _ids(context, name)]


def _delivered(context: ScenarioContext, args: dict[str, Any]) -> tuple[str, bool, str]:
    targets = {context.net.port(t).full_name for t in args["to"]}
    got = _receivers(context, args["frame"])
    union = set().union(*got) if got else set()
    if args["only"]:
        passed = all(r == targets for r in got)
        description = f"{args['frame']} delivered to exactly {', '.join(sorted(targets))}"
    else:
        passed = all(targets <= r for r in got)
        description = f"{args['frame']} delivered to {', '.join(sorted(targets))}"
    return description, passed, "received by " + (", ".join(sorted(union)) or "nobody")


def _not_delivered(context: ScenarioContext, args: dict[str, Any]) -> tuple[str, bool, str]:
    targets = {context.net.port(t).full_name for t in args["to"]}
    union = set().union(*_receivers(context, args["frame"]))
    return (f"{args['frame']} not delivered to {', '.join(sorted(targets))}", not (targets & union),
            "received by " + (", ".join(sorted(union)) or "nobody"))


def _dropped(context: ScenarioContext, args: dict[str, Any]) -> tuple[str, bool, str]:
    reason: DropReason = args["reason"]
    at = context.net.port(args["at"]).full_name if args["at"] else None
    drops = [d for i in _ids(context, args["frame"]) for d in context.net.trace.drops(i)]
    passed = any(r is reason and (at is None or port == at) for port, r in drops)
    where = f" at {at}" if at else ""
    actual = "; ".join(f"{port}: {r.name.lower()}" for port, r in drops) or "no drops"
    return f"{args['frame']} dropped{where}: {reason.name.lower()}", passed, actual


def _table(context: ScenarioContext, args: dict[str, Any]) -> tuple[str, bool, str]:
    switch = context.net.switch(args["switch"])
    mac: MACAddress = args["mac"]
    port = switch.table.lookup(args["vlan"], mac.packed, context.net.now)
    vlan = f" in VLAN {args['vlan']}" if args["vlan"] != 1 else ""
    if args["absent"]:
        return f"{switch.name} has no entry for {mac}{vlan}", port is None, f"port {port}" if port else "absent"
    return (f"{switch.name} learned {mac}{vlan} on {args['port']}", port == args["port"],
            f"port {port}" if port else "absent")


def _table_size(context: ScenarioContext, args: dict[str, Any]) -> tuple[str, bool, str]:
    switch = context.net.switch(args["switch"])
    entries = len(switch.table.rows(context.net.now))
    return f"{switch.name} holds {args['entries']} entries", entries == args["entries"], f"{entries} entries"


def _counter(context: ScenarioContext, args: dict[str, Any]) -> tuple[str, bool, str]:
    port = context.net.port(args["interface"])
    counters = port.counters
    wanted, seen = [], []
    for name, value in args.items():
        if name == "interface":
            continue
        if name in ("rx_dropped", "tx_dropped"):
            table = getattr(counters, name)
            for reason, count in value.items():
                wanted.append(f"{name}.{reason.name.lower()}={count}")
                seen.append(f"{name}.{reason.name.lower()}={table.get(reason, 0)}")
        else:
            wanted.append(f"{name}={value}")
            seen.append(f"{name}={getattr(counters, name)}")
    return f"{port.full_name} counters {' '.join(wanted)}", wanted == seen, " ".join(seen)


CHECKS: dict[str, Callable[[ScenarioContext, dict[str, Any]], tuple[str, bool, str]]] = {
    "delivered": _delivered, "not_delivered": _not_delivered, "dropped": _dropped, "table": _table,
    "table_size": _table_size, "counter": _counter,
}
