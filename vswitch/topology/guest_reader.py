"""Read the guest keys of topology files: IPv4 stacks, guest actions and guest expectations.

A NIC, VM or hypervisor gets a stack with ``ip: 192.0.2.10/24`` (``read_guest``). The actions ``ping``,
``arping``, ``udp``, ``stream``, ``replay`` and ``migrate`` and the expectations ``ping``, ``arp_entry`` and
``udp_received`` are rows added to ``scenario_reader``'s tables. Each reader returns the action's arguments with
``_where``: the place of each name-valued field, so that ``guest_check.py`` can point at the exact field when a
name or address is wrong. Every key is documented in ``docs/guests.md``.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import PurePath
from typing import Any, Callable

from ..core.units import decimal_number, parse_duration, parse_rate
from ..guests.arp import DEFAULT_TIMEOUT_NS
from ..guests.inet import address_text, interface_value
from ..guests.migrate import ANNOUNCERS
from ..guests.sessions import DEFAULT_PING_TIMEOUT_NS
from ..guests.stream import FIELDS, Vary, field_value
from ..l2.adapter import MODES
from .fields import frame_count, mac_value, virtual_time, where
from .security_reader import vlan_tags
from .spec import ActionSpec, GuestSpec
from .yamlreader import MapReader, boolean, integer_between, one_of, text

MAX_PROBES = 1_000_000
MAX_IP_DATA = 1500 - 28  # no fragmentation: ping or UDP data after IPv4 (20) and ICMP or UDP (8) headers
DEFAULT_UDP_SIZE = 64
SESSION_KINDS = ("ping", "arping", "udp")


# -- stacks -------------------------------------------------------------------------------------------
def read_guest(r: MapReader) -> GuestSpec | None:
    """The stack keys of a NIC, VM or hypervisor mapping (None without ``ip``)."""
    interface = r.take("ip", interface_value, default=None)
    timeout = r.take("arp_timeout", parse_duration, default=DEFAULT_TIMEOUT_NS)
    notify = r.take("arp_notify", boolean, default=True)
    if "ip" not in r.mapping:
        for key in ("arp_timeout", "arp_notify"):
            if key in r.mapping:
                r.error(key, f"{key} configures an IPv4 stack: give the interface an address too (ip: 192.0.2.10/24)")
        return None
    if timeout == 0:
        r.error("arp_timeout", "an ARP entry must live longer than 0s")
    return GuestSpec(interface, timeout or DEFAULT_TIMEOUT_NS, notify, where(r, "ip")) if interface else None


# -- value converters ---------------------------------------------------------------------------------
def frame_rate(value: object) -> tuple[str, Any]:
    """``1000pps`` (frames per second) or a bit rate on the wire (``100Mbps``)."""
    if isinstance(value, str) and value.strip().lower().endswith("pps"):
        number = value.strip()[:-3].strip()
        try:
            pps = decimal_number(number)
        except ValueError:
            pps = Fraction(-1)
        if pps <= 0 or pps > 10**10:
            raise ValueError(f"invalid rate {value!r}: write a positive number of frames per second, e.g. 1000pps")
        return "pps", pps
    try:
        bps = parse_rate(value)
    except ValueError as exc:
        raise ValueError(f"{exc} (or frames per second, e.g. 1000pps)") from None
    if bps == 0:
        raise ValueError("a rate of 0 sends nothing: give a positive rate")
    return "bps", bps


def loss_value(value: object) -> str:
    """A loss percentage: ``25%``, ``33.33%`` or a number."""
    textual = value.strip().rstrip("%").strip() if isinstance(value, str) else value
    if isinstance(textual, bool) or not isinstance(textual, (int, float, str)):
        raise ValueError(f"expected a percentage such as 0%, 25% or 33.33%, got {value!r}")
    written = str(textual)
    try:
        number = decimal_number(written)
    except ValueError:
        raise ValueError(f"expected a percentage such as 0%, 25% or 33.33%, got {value!r}") from None
    if not 0 <= number <= 100:
        raise ValueError(f"a loss is from 0% to 100%, got {value!r}")
    return written


def replay_file(value: object) -> str:
    """A capture file relative to the topology file's folder: no absolute path, no '..'."""
    name = text(value)
    path = PurePath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\0" in name:
        raise ValueError(f"replay file {name!r} must be a relative path inside the topology's folder (no '..'): "
                         "copy or link the capture next to the topology file")
    return name


def _located(r: MapReader, args: dict[str, Any], *keys: str) -> dict[str, Any]:
    args["_where"] = {key: where(r, key) for key in keys if key in r.mapping}
    args["_where"][""] = where(r)
    return args


def _timing(r: MapReader, default_interval_ns: int | None) -> dict[str, Any]:
    """``interval`` or ``rate`` (one of them) as interval_ns / pps / bps."""
    interval = r.take("interval", parse_duration, default=None)
    rate = r.take("rate", frame_rate, default=None)
    if "interval" in r.mapping and "rate" in r.mapping:
        r.error("rate", "give interval or rate, not both")
    timing: dict[str, Any] = {"interval_ns": None, "pps": None, "bps": None}
    if rate is not None:
        timing[rate[0]] = rate[1]
    else:
        timing["interval_ns"] = interval if interval is not None else default_interval_ns
    return timing


# -- actions ------------------------------------------------------------------------------------------
def _ping(r: MapReader) -> dict[str, Any]:
    args = {
        "from": r.take("from", text), "to": r.take("to", text),
        "count": r.take("count", frame_count(r), default=1),
        "interval_ns": r.take("interval", parse_duration, default=10**9),
        "size": r.take("size", integer_between(0, MAX_IP_DATA), default=56),
        "timeout_ns": r.take("timeout", parse_duration, default=DEFAULT_PING_TIMEOUT_NS),
        "name": r.take("name", text, default=None),
    }
    r.finish()
    return _located(r, args, "from", "to", "name")


def _arping(r: MapReader) -> dict[str, Any]:
    args = {
        "from": r.take("from", text), "to": r.take("to", text),
        "count": r.take("count", frame_count(r), default=1),
        "interval_ns": r.take("interval", parse_duration, default=10**9),
        "timeout_ns": r.take("timeout", parse_duration, default=DEFAULT_PING_TIMEOUT_NS),
        "name": r.take("name", text, default=None),
    }
    r.finish()
    return _located(r, args, "from", "to", "name")


def _udp(r: MapReader) -> dict[str, Any]:
    args = {
        "from": r.take("from", text), "to": r.take("to", text),
        "count": r.take("count", frame_count(r), default=1),
        "size": r.take("size", integer_between(0, MAX_IP_DATA), default=DEFAULT_UDP_SIZE),
        "port": r.take("port", integer_between(1, 65535), default=9),
        "sport": r.take("sport", integer_between(1, 65535), default=None),
        "timeout_ns": r.take("timeout", parse_duration, default=DEFAULT_PING_TIMEOUT_NS),
        "name": r.take("name", text, default=None),
        **_timing(r, 1_000_000),
    }
    r.finish()
    return _located(r, args, "from", "to", "name")


def _vary(r: MapReader) -> Vary | None:
    name = r.take("field", one_of(*FIELDS))
    raw_start = r.take("start", lambda v: v, default=None)
    step = r.take("step", integer_between(-(1 << 48), 1 << 48), default=1)
    cycle = r.take("cycle", integer_between(1, 1 << 48), default=None)
    r.finish()
    if name is None:
        return None
    start = None
    if raw_start is not None:
        try:
            start = field_value(name, raw_start)
        except ValueError as exc:
            r.error("start", str(exc))
    return Vary(name, start, step, cycle)


def _stream(r: MapReader) -> dict[str, Any]:
    args: dict[str, Any] = {
        "from": r.take("from", text),
        "to": r.take("to", text, default=None),
        "dst": r.take("dst", lambda v: "broadcast" if v == "broadcast" else mac_value(v), default=None),
        "src": r.take("src", mac_value, default=None),
        "ethertype": r.take("ethertype", integer_between(0x600, 0xFFFF), default=None),
        "size": r.take("size", integer_between(14, 1514), default=60),
        "count": r.take("count", frame_count(r)),
        "name": r.take("name", text, default=None),
        "vlan": r.take("vlan", vlan_tags, default=()),  # tags, outermost first (security_reader.py)
        **_timing(r, 1_000_000),
    }
    udp = r.take_map("udp", required=False)
    if "udp" in r.mapping:
        args["udp"] = {"src_ip": udp.take("src_ip", address_text),
                       "dst_ip": udp.take("dst_ip", address_text),
                       "sport": udp.take("sport", integer_between(0, 65535), default=1024),
                       "dport": udp.take("dport", integer_between(0, 65535), default=9)}
        if args["ethertype"] is not None:
            r.error("ethertype", "udp frames are IPv4 (0x0800): leave ethertype out")
        if args["size"] is not None and args["size"] < 46:
            r.error("size", "a udp frame (with a 4-byte sequence number) needs size 46 or more")
    udp.finish()
    vary = [v for v in (_vary(item) for item in r.take_maps("vary", required=False)) if v is not None]
    for v in vary:
        if FIELDS[v.field].needs_udp and "udp" not in args:
            r.error("vary", f"{v.field} exists only in udp streams: add udp: {{src_ip: ..., dst_ip: ...}}")
    args["vary"] = tuple(vary)
    if (args["to"] is None) == (args["dst"] is None):
        r.error(None, "give exactly one of to (an interface) or dst (a MAC or broadcast)")
    r.finish()
    return _located(r, args, "from", "to", "name")


def _replay(r: MapReader) -> dict[str, Any]:
    args = {
        "file": r.take("file", replay_file),
        "into": r.take("into", text, default=None),
        "from": r.take("from", text, default=None),
        "count": r.take("count", integer_between(1, 10**12), default=None),
        "name": r.take("name", text, default=None),
        **_timing(r, None),
    }
    if (args["into"] is None) == (args["from"] is None):
        r.error(None, "give exactly one of into (a port the frames arrive at) or from (a NIC that sends them)")
    r.finish()
    return _located(r, args, "file", "into", "from", "name")


def _migrate(r: MapReader) -> dict[str, Any]:
    args = {
        "vm": r.take("vm", text), "to": r.take("to", text),
        "announce": r.take("announce", one_of(*ANNOUNCERS), default=None),
        "downtime_ns": r.take("downtime", virtual_time(r), default=0),
        "mode": r.take("mode", one_of(*MODES), default=None),
        "rounds": r.take("rounds", integer_between(1, 100), default=5),
        "name": r.take("name", text, default=None),
    }
    if "rounds" in r.mapping and args["announce"] not in ("qemu", None):
        r.error("rounds", "rounds applies to the qemu announcement (RARP rounds)")
    r.finish()
    return _located(r, args, "vm", "to", "announce", "name")


GUEST_ACTIONS: dict[str, Callable[[MapReader], dict[str, Any]]] = {
    "ping": _ping, "arping": _arping, "udp": _udp, "stream": _stream, "replay": _replay, "migrate": _migrate,
}


# -- expectations -------------------------------------------------------------------------------------
def _ping_check(r: MapReader) -> dict[str, Any]:
    args = {"name": r.take("name", text), "succeeds": r.take("succeeds", boolean, default=None),
            "loss": r.take("loss", loss_value, default=None),
            "received": r.take("received", integer_between(0, MAX_PROBES), default=None),
            "transmitted": r.take("transmitted", integer_between(0, MAX_PROBES), default=None)}
    if all(args[k] is None for k in ("succeeds", "loss", "received", "transmitted")):
        r.error(None, "say what to check: succeeds, loss, received or transmitted")
    r.finish()
    return _located(r, args, "name")


def _arp_entry(r: MapReader) -> dict[str, Any]:
    args = {"on": r.take("on", text), "ip": r.take("ip", text), "mac": r.take("mac", mac_value, default=None),
            "absent": r.take("absent", boolean, default=False)}
    if args["absent"] and args["mac"] is not None:
        r.error("mac", "give mac (the entry must hold it) or absent: true, not both")
    r.finish()
    return _located(r, args, "on", "ip")


def _udp_received(r: MapReader) -> dict[str, Any]:
    args = {"on": r.take("on", text), "port": r.take("port", integer_between(1, 65535), default=None),
            "from": r.take("from", text, default=None),
            "count": r.take("count", integer_between(0, 10**12), default=None)}
    r.finish()
    return _located(r, args, "on", "from")


GUEST_EXPECTATIONS: dict[str, Callable[[MapReader], dict[str, Any]]] = {
    "ping": _ping_check, "arp_entry": _arp_entry, "udp_received": _udp_received,
}


# -- default names ------------------------------------------------------------------------------------
def name_actions(actions: list[ActionSpec]) -> None:
    """Give unnamed guest actions a name (``ping-vm1-h1``, ``vm1-announce``, ``replay-lan``), unique in the file."""
    taken = {a.args.get("name") for a in actions if a.kind in GUEST_ACTIONS or a.kind == "send"} - {None}
    next_number: dict[str, int] = {}  # base -> first number not tried yet: linear, not quadratic, in actions
    for action in actions:
        args = action.args
        if action.kind not in GUEST_ACTIONS or args.get("name") is not None:
            continue
        if action.kind in SESSION_KINDS:
            base = f"{action.kind}-{args.get('from')}-{args.get('to')}"
        elif action.kind == "migrate":
            base = f"{args.get('vm')}-announce"
        elif action.kind == "replay":
            base = f"replay-{PurePath(args.get('file') or 'capture').stem}"
        else:
            base = f"stream-{args.get('from')}"
        n = next_number.get(base, 1)
        name = base if n == 1 else f"{base}-{n}"
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        next_number[base] = n + 1
        taken.add(name)
        args["name"] = name
