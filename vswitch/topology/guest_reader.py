"""Read the guest keys of topology files: guest stacks, guest actions and guest expectations.

A NIC, VM or hypervisor gets a stack with ``ip: 192.0.2.10/24``, ``ip6: [2001:db8::10/64]`` or both
(``read_guest``). The actions ``ping``,
``arping``, ``udp``, ``stream``, ``replay`` and ``migrate`` are frozen classes that read themselves (their
expectations are in ``guest_expectations.py``); each keeps ``places``: where each name-valued field was written,
so that ``guest_check.py`` can point at the exact field when a name or address is wrong. Every key is documented
in ``docs/guests.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import PurePath
from typing import Any, Optional, Union

from ..core.mac import MACAddress
from ..core.units import decimal_number, parse_duration, parse_rate
from ..guests.arp import DEFAULT_TIMEOUT_NS
from ..guests.inet import interface_value, looks_like_address
from ..guests.inet6 import interface6_value, interfaces6, looks_like_ipv6
from ..guests.migrate import ANNOUNCERS, GUEST_ANNOUNCE_MODELS, announcement_frames, default_announcer, \
    stack_announce_frames
from ..guests.sessions import DEFAULT_PING_TIMEOUT_NS
from ..guests.stream import FIELDS, Vary, field_value, period_ns
from ..guests.traffic import UdpFields
from ..l2.adapter import MODES
from .fields import frame_count, item_places, places, virtual_time, where
from .frame_keys import check_one_destination, read_addressing, read_udp
from .guest_expectations import GUEST_EXPECTATIONS  # noqa: F401  (the guest keys, with GUEST_ACTIONS)
from .security_reader import vlan_tags
from .spec import ACTION_KINDS, ActionSpec, GuestSpec, Ipv6Spec, NamedAction, Tags, VmStates
from .yamlreader import MapReader, boolean, integer_between, one_of, text

MAX_IP_DATA = 1500 - 28  # no fragmentation: ping or UDP data after IPv4 (20) and ICMP or UDP (8) headers
MAX_IP_DATA6 = 1500 - 48  # the same after IPv6 (40): guest_check.py refuses more for an IPv6 session
DEFAULT_UDP_SIZE = 64
UDP_HEADERS_BYTES = 42  # Ethernet, IPv4 and UDP headers before a udp action's data


# -- stacks -------------------------------------------------------------------------------------------
def read_guest(r: MapReader) -> GuestSpec | None:
    """The stack keys of a NIC, VM or hypervisor mapping: IPv4 with ``ip``, IPv6 with ``ip6`` (or
    ``link_local: true``), or both; None with neither."""
    interface = r.take("ip", interface_value, default=None)
    timeout = r.take("arp_timeout", parse_duration, default=DEFAULT_TIMEOUT_NS)
    notify = r.take("arp_notify", boolean, default=True)
    ipv6 = read_ipv6(r)
    if "ip" not in r.mapping:
        for key in ("arp_timeout", "arp_notify"):
            if key in r.mapping:
                r.error(key, f"{key} configures IPv4 (ARP): give the interface an IPv4 address too "
                             "(ip: 192.0.2.10/24)")
        if ipv6 is None:
            return None
    elif not interface:
        return None  # the address was reported
    if timeout == 0:
        r.error("arp_timeout", "an ARP entry must live longer than 0s")
    return GuestSpec(interface, timeout or DEFAULT_TIMEOUT_NS, notify, where(r, "ip" if "ip" in r.mapping else
                                                                              _ipv6_key(r)), ipv6=ipv6)


IPV6_KEYS = ("ip6", "link_local", "dad_transmits")


def _ipv6_key(r: MapReader) -> str:
    """The key that turned IPv6 on (``ip6``, else ``link_local``), where an IPv6-only stack is reported."""
    return "ip6" if "ip6" in r.mapping else "link_local"


def read_ipv6(r: MapReader) -> Ipv6Spec | None:
    """``ip6`` (a list of addresses with their prefix, maybe empty: the link-local alone), ``link_local`` and
    ``dad_transmits``; None without ``ip6`` or ``link_local: true`` (which alone means the link-local alone)."""
    addresses = tuple(r.take_list("ip6", interface6_value, required=False))
    link_local = r.take("link_local", boolean, default=True)
    dad = r.take("dad_transmits", integer_between(0, 10), default=1)
    if "ip6" not in r.mapping and r.mapping.get("link_local") is not True:
        for key in ("link_local", "dad_transmits"):
            if key in r.mapping:
                r.error(key, f"{key} configures IPv6: turn it on with ip6 (a list of addresses, [] for the "
                             "link-local alone) or link_local: true")
        return None
    if not addresses and link_local is False:
        r.error("link_local", "with link_local off, give ip6 at least one address (the interface has none)")
    seen: set[object] = set()
    for address in addresses:
        if address.ip in seen:
            r.error("ip6", f"{address.ip} is listed twice")
        seen.add(address.ip)
    return Ipv6Spec(addresses, link_local is not False, dad if dad is not None else 1)


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


def replay_file(value: object) -> str:
    """A capture file relative to the topology file's folder: no absolute path, no '..'."""
    name = text(value)
    path = PurePath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\0" in name:
        raise ValueError(f"replay file {name!r} must be a relative path inside the topology's folder (no '..'): "
                         "copy or link the capture next to the topology file")
    return name


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
@dataclass(frozen=True, kw_only=True)
class GuestAction(NamedAction):
    """An action of the guest stacks and traffic engines (docs/guests.md). ``places`` keeps where the fields that
    name interfaces, addresses and files were written: ``guest_check.py`` checks them against the stations."""


@dataclass(frozen=True, kw_only=True)
class SessionAction(GuestAction):
    """``count`` probes from the stack of ``from_`` to ``to`` (an address, or an interface's): a session whose
    replies are counted until ``timeout_ns`` after the last probe."""

    from_: str
    to: str
    count: int = 1
    timeout_ns: int = DEFAULT_PING_TIMEOUT_NS
    family: Optional[str] = None  # "ipv4" or "ipv6" for a ``to`` that names an interface (None: ipv4)

    @staticmethod
    def read_session(r: MapReader) -> dict[str, Any]:
        """The keys every session action has: ``from``, ``to``, ``count``, ``timeout`` and ``name``."""
        return {
            "from_": r.take("from", text), "to": r.take("to", text),
            "count": r.take("count", frame_count(r), default=1),
            "timeout_ns": r.take("timeout", parse_duration, default=DEFAULT_PING_TIMEOUT_NS),
            "name": r.take("name", text, default=None),
        }

    @staticmethod
    def read_family(r: MapReader) -> dict[str, Any]:
        """``family`` (ping and udp): ``ipv6`` to reach an interface named in ``to`` by its IPv6 address."""
        family = r.take("family", one_of("ipv4", "ipv6"), default=None)
        to = r.mapping.get("to")
        if family is not None and isinstance(to, str) and looks_like_address(to) | looks_like_ipv6(to):
            written = "ipv6" if looks_like_ipv6(to) else "ipv4"
            if written != family:
                r.error("family", f"to is an {written} address: leave family out, or name an interface")
        return {"family": family}

    def default_name(self) -> Optional[str]:
        return f"{self.kind}-{self.from_}-{self.to}"


@dataclass(frozen=True, kw_only=True)
class PingAction(SessionAction, kind="ping"):
    """ICMP echo requests of ``size`` bytes of data, one every ``interval_ns``."""

    interval_ns: int = 10**9
    size: int = 56

    @classmethod
    def read(cls, r: MapReader) -> PingAction:
        keys: dict[str, Any] = {
            **cls.read_session(r), **cls.read_family(r),
            "interval_ns": r.take("interval", parse_duration, default=10**9),
            "size": r.take("size", integer_between(0, MAX_IP_DATA), default=56),
        }
        r.finish()
        return cls(**keys, places=places(r, "from", "to", "name"))

    def frame_budget(self, vms: VmStates) -> tuple[Optional[int], Optional[Fraction]]:
        return self.count, period_ns(interval_ns=self.interval_ns)


@dataclass(frozen=True, kw_only=True)
class ArpingAction(SessionAction, kind="arping"):
    """ARP requests for ``to``'s address, one every ``interval_ns``."""

    interval_ns: int = 10**9

    @classmethod
    def read(cls, r: MapReader) -> ArpingAction:
        keys: dict[str, Any] = {
            **cls.read_session(r),
            "interval_ns": r.take("interval", parse_duration, default=10**9),
        }
        r.finish()
        return cls(**keys, places=places(r, "from", "to", "name"))

    def frame_budget(self, vms: VmStates) -> tuple[Optional[int], Optional[Fraction]]:
        return self.count, period_ns(interval_ns=self.interval_ns)


@dataclass(frozen=True, kw_only=True)
class UdpAction(SessionAction, kind="udp"):
    """UDP datagrams of ``size`` bytes of data to ``port`` (from ``sport``, or one per session), at an interval
    (``interval_ns``) or a rate (``pps`` or ``bps``)."""

    size: int = DEFAULT_UDP_SIZE
    port: int = 9
    sport: Optional[int] = None
    interval_ns: Optional[int] = None
    pps: Optional[Fraction] = None
    bps: Optional[int] = None

    @classmethod
    def read(cls, r: MapReader) -> UdpAction:
        keys: dict[str, Any] = {
            **cls.read_session(r), **cls.read_family(r),
            "size": r.take("size", integer_between(0, MAX_IP_DATA), default=DEFAULT_UDP_SIZE),
            "port": r.take("port", integer_between(1, 65535), default=9),
            "sport": r.take("sport", integer_between(1, 65535), default=None),
            **_timing(r, 1_000_000),
        }
        r.finish()
        return cls(**keys, places=places(r, "from", "to", "name"))

    def frame_budget(self, vms: VmStates) -> tuple[Optional[int], Optional[Fraction]]:
        return self.count, _period(self.interval_ns, self.pps, self.bps, (self.size or 60) + UDP_HEADERS_BYTES)


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


@dataclass(frozen=True, kw_only=True)
class StreamAction(GuestAction, kind="stream"):
    """``count`` frames of one template from ``from_`` (to the interface ``to`` or the MAC ``dst``), the fields
    of ``vary`` changing frame by frame, at an interval or a rate; no stack needed."""

    from_: str
    to: Optional[str] = None
    dst: Union[MACAddress, str, None] = None  # a MAC or "broadcast"
    src: Optional[MACAddress] = None
    ethertype: Optional[int] = None
    size: int = 60
    count: int
    vlan: Tags = ()
    udp: Optional[UdpFields] = None
    vary: tuple[Vary, ...] = ()
    interval_ns: Optional[int] = None
    pps: Optional[Fraction] = None
    bps: Optional[int] = None

    @classmethod
    def read(cls, r: MapReader) -> StreamAction:
        keys: dict[str, Any] = {
            **read_addressing(r),
            "ethertype": r.take("ethertype", integer_between(0x600, 0xFFFF), default=None),
            "size": r.take("size", integer_between(14, 1514), default=60),
            "count": r.take("count", frame_count(r)),
            "name": r.take("name", text, default=None),
            "vlan": r.take("vlan", vlan_tags, default=()),  # tags, outermost first (security_reader.py)
            **_timing(r, 1_000_000),
        }
        read_udp(r, keys)
        if "udp" in keys and keys["size"] is not None and keys["size"] < 46:
            r.error("size", "a udp frame (with a 4-byte sequence number) needs size 46 or more")
        vary = [v for v in (_vary(item) for item in r.take_maps("vary", required=False)) if v is not None]
        for v in vary:
            if FIELDS[v.field].needs_udp and "udp" not in keys:
                r.error("vary", f"{v.field} exists only in udp streams: add udp: {{src_ip: ..., dst_ip: ...}}")
        keys["vary"] = tuple(vary)
        check_one_destination(r, keys)
        r.finish()
        return cls(**keys, places=places(r, "from", "to", "name"))

    def default_name(self) -> Optional[str]:
        return f"stream-{self.from_}"

    def frame_budget(self, vms: VmStates) -> tuple[Optional[int], Optional[Fraction]]:
        return self.count, _period(self.interval_ns, self.pps, self.bps, self.size or 60)


@dataclass(frozen=True, kw_only=True)
class ReplayAction(GuestAction, kind="replay"):
    """The frames of a capture ``file``, arriving at the port ``into`` or sent by the NIC ``from_``, at their
    recorded times or at an interval or a rate; ``count`` of them at most."""

    file: str
    into: Optional[str] = None
    from_: Optional[str] = None
    count: Optional[int] = None
    interval_ns: Optional[int] = None
    pps: Optional[Fraction] = None
    bps: Optional[int] = None

    @classmethod
    def read(cls, r: MapReader) -> ReplayAction:
        keys: dict[str, Any] = {
            "file": r.take("file", replay_file),
            "into": r.take("into", text, default=None),
            "from_": r.take("from", text, default=None),
            "count": r.take("count", integer_between(1, 10**12), default=None),
            "name": r.take("name", text, default=None),
            **_timing(r, None),
        }
        if (keys["into"] is None) == (keys["from_"] is None):
            r.error(None, "give exactly one of into (a port the frames arrive at) or from (a NIC that sends them)")
        r.finish()
        return cls(**keys, places=places(r, "file", "into", "from", "name"))

    def default_name(self) -> Optional[str]:
        return f"replay-{PurePath(self.file or 'capture').stem}"

    def frame_name(self) -> Optional[str]:
        return self.name


@dataclass(frozen=True, kw_only=True)
class MigrateAction(GuestAction, kind="migrate"):
    """The VM ``vm`` moves to the hypervisor ``to``: paused for ``downtime_ns``, then announced (``announce``:
    qemu's RARP rounds or xen's guest announcement; None: by its MAC's prefix). ``guest_announce`` (qemu): whether
    the guest announces itself in each round too (None: if its NIC is virtio-net)."""

    vm: str
    to: str
    announce: Optional[str] = None
    downtime_ns: int = 0
    mode: Optional[str] = None
    rounds: int = 5
    guest_announce: Optional[bool] = None

    @classmethod
    def read(cls, r: MapReader) -> MigrateAction:
        keys: dict[str, Any] = {
            "vm": r.take("vm", text), "to": r.take("to", text),
            "announce": r.take("announce", one_of(*ANNOUNCERS), default=None),
            "downtime_ns": r.take("downtime", virtual_time(r), default=0),
            "mode": r.take("mode", one_of(*MODES), default=None),
            "rounds": r.take("rounds", integer_between(1, 100), default=5),
            "guest_announce": r.take("guest_announce", boolean, default=None),
            "name": r.take("name", text, default=None),
        }
        for key, what in (("rounds", "RARP rounds"), ("guest_announce", "a virtio-net guest announcing itself in "
                                                                          "each RARP round; xen's netfront always "
                                                                          "announces from the guest")):
            if key in r.mapping and keys["announce"] not in ("qemu", None):
                r.error(key, f"{key} applies to the qemu announcement ({what})")
        r.finish()
        return cls(**keys, places=places(r, "vm", "to", "announce", "name"))

    def default_name(self) -> Optional[str]:
        return f"{self.vm}-announce"

    def frame_name(self) -> Optional[str]:
        return self.name

    def frame_budget(self, vms: VmStates) -> tuple[Optional[int], Optional[Fraction]]:
        """The announcement's frames (``migrate.announcement_frames``), by the VM's MAC, stack and I/O model."""
        vm = vms.get(self.vm)
        if vm is None or self.rounds is None:  # reported already
            return None, None
        announcer = self.announce or default_announcer(vm.mac.packed)
        guest = self.guest_announce if self.guest_announce is not None else vm.io_model in GUEST_ANNOUNCE_MODELS
        stack = 0
        if vm.guest is not None:
            ipv6 = vm.guest.ipv6
            addresses = None if ipv6 is None else len(interfaces6(vm.mac.packed, ipv6.addresses, ipv6.link_local))
            stack = stack_announce_frames(vm.guest.interface is not None, addresses)
        return announcement_frames(announcer, self.rounds, guest, stack), None

    def moves(self) -> Optional[tuple[str, str]]:
        return (self.vm, self.to) if self.vm is not None and self.to is not None else None


@dataclass(frozen=True, kw_only=True)
class PingallAction(GuestAction, kind="pingall"):
    """Every stack of ``between`` (empty: every interface with an address) pings every other, ``count`` echo
    requests a pair, like Mininet's ``pingall``; ``scenario/reachability.py`` keeps the matrix."""

    between: tuple[str, ...] = ()
    count: int = 1
    interval_ns: int = 10**9
    timeout_ns: int = DEFAULT_PING_TIMEOUT_NS

    @classmethod
    def read(cls, r: MapReader) -> PingallAction:
        keys: dict[str, Any] = {
            "between": tuple(r.take_list("between", text, required=False)),
            "count": r.take("count", frame_count(r), default=1),
            "interval_ns": r.take("interval", parse_duration, default=10**9),
            "timeout_ns": r.take("timeout", parse_duration, default=DEFAULT_PING_TIMEOUT_NS),
            "name": r.take("name", text, default=None),
        }
        if "between" in r.mapping and len(set(keys["between"])) < 2:
            r.error("between", "name at least two interfaces to ping between (or leave between out: every "
                               "interface with an address)")
        r.finish()
        return cls(**keys, places=places(r, "between", "name") + item_places(r, "between"))

    def default_name(self) -> Optional[str]:
        return "pingall"

    def frame_budget(self, vms: VmStates) -> tuple[Optional[int], Optional[Fraction]]:
        """Every pair's probes, all pairs at once (without ``between``: one pair's, as the stacks are not known
        yet)."""
        if self.count is None or self.interval_ns is None:  # reported already
            return None, None
        pairs = max(1, len(set(self.between)) * (len(set(self.between)) - 1))
        return self.count * pairs, period_ns(interval_ns=self.interval_ns) / pairs


def _period(interval_ns: Optional[int], pps: Optional[Fraction], bps: Optional[int], frame_len: int
            ) -> Optional[Fraction]:
    if interval_ns is None and pps is None and bps is None:
        return None
    return period_ns(interval_ns=interval_ns, pps=pps, bps=bps, frame_len=frame_len)


#: kind -> reader of the guest actions, for the docs test (every key read is documented)
GUEST_ACTIONS = {kind: action.read for kind, action in ACTION_KINDS.items() if issubclass(action, GuestAction)}


# -- default names ------------------------------------------------------------------------------------
def name_actions(actions: list[ActionSpec]) -> list[ActionSpec]:
    """``actions`` with each unnamed guest action given a name (``ping-vm1-h1``, ``vm1-announce``,
    ``replay-lan``), unique in the file."""
    taken = {a.action.name for a in actions if isinstance(a.action, NamedAction)} - {None}
    next_number: dict[str, int] = {}  # base -> first number not tried yet: linear, not quadratic, in actions
    named = []
    for spec in actions:
        action = spec.action
        base = action.default_name() if isinstance(action, NamedAction) and action.name is None else None
        if not isinstance(action, NamedAction) or base is None:
            named.append(spec)
            continue
        n = next_number.get(base, 1)
        name = base if n == 1 else f"{base}-{n}"
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        next_number[base] = n + 1
        taken.add(name)
        named.append(replace(spec, action=replace(action, name=name)))
    return named
