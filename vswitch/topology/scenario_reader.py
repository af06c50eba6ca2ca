"""Read the ``scenario`` (timed actions) and ``expect`` (checks) sections of a topology file.

Each scenario item is ``{at: TIME, <action>: ARGS}``; each expectation ``{<kind>: ARGS}`` with an optional
``at``. Actions and expectation kinds are tables of readers, so that later features add rows, not branches.
"""

from __future__ import annotations

import difflib
from typing import Any, Callable

from ..core.reasons import DropReason
from ..core.units import parse_duration
from ..guests.inet import address_text
from ..l2.adapter import MODES
from ..l2.switch import PORT_FLAGS
from .bounds import ScenarioBudget
from .fields import frame_count, group_mac, mac_value, virtual_time, where
from .guest_reader import GUEST_ACTIONS, GUEST_EXPECTATIONS, name_actions
from .security_reader import PORT_KEYS, SECURITY_ACTIONS, SECURITY_EXPECTATIONS, read_port_action_keys, vlan_tags
from .spec import ActionSpec, ExpectationSpec
from .yamlreader import MapReader, boolean, describe, integer_between, one_of, text

DROP_REASONS = {reason.name.lower(): reason for reason in DropReason}
COUNTER_FIELDS = ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes")


def _ethertype(value: object) -> int:
    number = integer_between(0, 0xFFFF)(value)
    if number < 0x600:
        raise ValueError(f"ethertype {number:#06x} is an 802.3 length, not a type: use 0x0600 or more")
    return number


def _hex_bytes(value: object) -> bytes:
    try:
        return bytes.fromhex(text(value).replace(":", " "))
    except ValueError:
        raise ValueError(f"payload_hex must be hex digits (spaces or colons allowed), got {describe(value)}") from None


def _reason(value: object) -> DropReason:
    name = text(value).lower()
    if name not in DROP_REASONS:
        close = difflib.get_close_matches(name, DROP_REASONS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (one of: {', '.join(DROP_REASONS)})"
        raise ValueError(f"unknown drop reason {name!r}{hint}")
    return DROP_REASONS[name]


def _names(value: object) -> tuple[str, ...]:
    """One interface name or a list of them."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"expected an interface name or a list of names, got {describe(value)}")


# -- actions ------------------------------------------------------------------------------------------
def _send(r: MapReader) -> dict[str, Any]:
    args = {
        "from": r.take("from", text),
        "to": r.take("to", text, default=None),
        "dst": r.take("dst", lambda v: "broadcast" if v == "broadcast" else mac_value(v), default=None),
        "src": r.take("src", mac_value, default=None),
        "ethertype": r.take("ethertype", _ethertype, default=None),
        "payload": r.take("payload", lambda v: text(v).encode(), default=b""),
        "size": r.take("size", integer_between(14, 65535), default=None),
        "count": r.take("count", frame_count(r), default=1),
        "interval_ns": r.take("interval", parse_duration, default=1_000_000),
        "name": r.take("name", text, default=None),
    }
    if "vlan" in r.mapping:  # tags, outermost first (security_reader.py)
        args["vlan"] = r.take("vlan", vlan_tags)
    if "payload_hex" in r.mapping:
        args["payload"] = r.take("payload_hex", _hex_bytes)
    else:
        r.take("payload_hex", _hex_bytes, default=None)
    udp = r.take_map("udp", required=False)
    if "udp" in r.mapping:
        args["udp"] = {
            "src_ip": udp.take("src_ip", address_text), "dst_ip": udp.take("dst_ip", address_text),
            "sport": udp.take("sport", integer_between(0, 65535), default=1024),
            "dport": udp.take("dport", integer_between(0, 65535), default=9),
        }
        if args["ethertype"] is not None:
            r.error("ethertype", "udp frames are IPv4 (0x0800): leave ethertype out")
    udp.finish()
    if (args["to"] is None) == (args["dst"] is None):
        r.error(None, "give exactly one of to (an interface) or dst (a MAC or broadcast)")
    r.finish()
    return args


def _link(r: MapReader) -> dict[str, Any]:
    args = {"a": r.take("a", text), "b": r.take("b", text, default=None), "up": r.take("up", boolean)}
    r.finish()
    return args


def _attach(r: MapReader) -> dict[str, Any]:
    args = {"vm": r.take("vm", text), "hypervisor": r.take("hypervisor", text),
            "mode": r.take("mode", one_of(*MODES), default=None)}
    r.finish()
    return args


def _port(r: MapReader) -> dict[str, Any]:
    args = {"port": r.take("port", text)}
    flags = {flag: r.take(flag, boolean, default=None) for flag in PORT_FLAGS}
    args["flags"] = {k: v for k, v in flags.items() if v is not None}
    args.update(read_port_action_keys(r))  # pvid, vlans, max_macs, violation (security_reader.py)
    if not any(key in r.mapping for key in (*PORT_FLAGS, *PORT_KEYS)):
        r.error(None, f"set at least one flag ({', '.join(PORT_FLAGS)}) or port key ({', '.join(PORT_KEYS)})")
    r.finish()
    return args


def _interface(r: MapReader) -> dict[str, Any]:
    args = {
        "name": r.take("name", text),
        "up": r.take("up", boolean, default=None),
        "promiscuous": r.take("promiscuous", boolean, default=None),
        "allmulti": r.take("allmulti", boolean, default=None),
        "join": tuple(r.take_list("join", group_mac, required=False)),
        "leave": tuple(r.take_list("leave", group_mac, required=False)),
    }
    r.finish()
    return args


#: action name -> reader of its mapping. ``detach`` takes a bare VM name.
ACTIONS: dict[str, Callable[[MapReader], dict[str, Any]]] = {
    "send": _send, "link": _link, "attach": _attach, "port": _port, "interface": _interface, **GUEST_ACTIONS,
    **SECURITY_ACTIONS,
}
SCALAR_ACTIONS = {"detach": text}


# -- expectations -------------------------------------------------------------------------------------
def _delivered(r: MapReader) -> dict[str, Any]:
    args = {"frame": r.take("frame", text), "to": r.take("to", _names), "only": r.take("only", boolean, default=False)}
    r.finish()
    return args


def _not_delivered(r: MapReader) -> dict[str, Any]:
    args = {"frame": r.take("frame", text), "to": r.take("to", _names)}
    r.finish()
    return args


def _dropped(r: MapReader) -> dict[str, Any]:
    args = {"frame": r.take("frame", text), "reason": r.take("reason", _reason),
            "at": r.take("at", text, default=None)}
    r.finish()
    return args


def _table(r: MapReader) -> dict[str, Any]:
    args = {"switch": r.take("switch", text), "mac": r.take("mac", mac_value),
            "port": r.take("port", text, default=None), "absent": r.take("absent", boolean, default=False),
            "vlan": r.take("vlan", integer_between(0, 4095), default=1)}
    if (args["port"] is None) == (not args["absent"]):
        r.error(None, "give port (where the MAC must be learned) or absent: true, not both")
    r.finish()
    return args


def _table_size(r: MapReader) -> dict[str, Any]:
    args = {"switch": r.take("switch", text), "entries": r.take("entries", integer_between(0, 10**9))}
    r.finish()
    return args


def _counter(r: MapReader) -> dict[str, Any]:
    args: dict[str, Any] = {"interface": r.take("interface", text)}
    for field in COUNTER_FIELDS:
        value = r.take(field, integer_between(0, 10**15), default=None)
        if value is not None:
            args[field] = value
    for field in ("rx_dropped", "tx_dropped"):
        present = field in r.mapping
        section = r.take_map(field, required=False)
        drops = {}
        for key in section.names("drop reason"):
            count = section.take(key, integer_between(0, 10**15))
            try:
                drops[_reason(key)] = count
            except ValueError as exc:
                section.error(key, str(exc))
        section.finish()
        if present:
            args[field] = drops
    if len(args) == 1:
        r.error(None, f"name at least one counter: {', '.join(COUNTER_FIELDS)}, rx_dropped, tx_dropped")
    r.finish()
    return args


EXPECTATIONS: dict[str, Callable[[MapReader], dict[str, Any]]] = {
    "delivered": _delivered, "not_delivered": _not_delivered, "dropped": _dropped, "table": _table,
    "table_size": _table_size, "counter": _counter, **GUEST_EXPECTATIONS, **SECURITY_EXPECTATIONS,
}


# -- sections -----------------------------------------------------------------------------------------
def _one_key(r: MapReader, table: dict, scalar: dict, what: str) -> tuple[str | None, dict[str, Any] | None]:
    """Find the single action/expectation key of an item and read its value."""
    keys = [k for k in r.mapping if k in table or k in scalar]
    if len(keys) != 1:
        known = sorted(set(table) | set(scalar))
        others = [str(k) for k in r.mapping if k != "at"]
        hint = ""
        if not keys and others:
            close = difflib.get_close_matches(others[0], known, n=1)
            hint = f"; {others[0]!r} is not one" + (f" (did you mean {close[0]!r}?)" if close else "")
        r.error(None, f"each item needs exactly one {what} ({', '.join(known)}){hint}")
        for key in r.mapping:
            r.take(key, lambda v: v, default=None)
        return None, None
    key = keys[0]
    if key in scalar:
        value = r.take(key, scalar[key])
        return key, {"vm": value}
    child = r.take_map(key)
    return key, table[key](child)


def read_scenario(top: MapReader) -> list[ActionSpec]:
    actions = []
    at = 0
    budget = ScenarioBudget(top.document)
    for item in top.take_maps("scenario", required=False):
        given = item.take("at", virtual_time(item), default=None)
        at = at if given is None else given
        kind, args = _one_key(item, {**ACTIONS, "expect": _expectation_body}, SCALAR_ACTIONS, "action")
        item.finish()
        if kind is not None:
            actions.append(ActionSpec(at, kind, args, where(item)))
            budget.add(item, kind, at, args)
    name_actions(actions)
    return actions


def _expectation_body(r: MapReader) -> dict[str, Any]:
    kind, args = _one_key(r, EXPECTATIONS, {}, "expectation")
    r.finish()
    return {"kind": kind, "args": args}


def read_expectations(top: MapReader) -> list[ExpectationSpec]:
    checks = []
    for item in top.take_maps("expect", required=False):
        at = item.take("at", virtual_time(item), default=None)
        kind, args = _one_key(item, EXPECTATIONS, {}, "expectation")
        item.finish()
        if kind is not None:
            checks.append(ExpectationSpec(kind, args, at, where(item)))
    return checks


def frame_names(actions: list[ActionSpec]) -> set[str]:
    """Names that ``delivered``/``dropped`` expectations may use: sends, migration announcements, replays."""
    return {a.args["name"] for a in actions if a.kind in ("send", "migrate", "replay") and a.args.get("name")}

