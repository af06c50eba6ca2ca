"""Read the guest expectations of topology files into frozen values: ``ping`` (a ping, arping or udp session),
``arp_entry`` and ``udp_received`` (docs/guests.md). ``scenario/guest_actions.py`` checks them; ``places`` keeps
where the names and addresses were written, for ``guest_check.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from ..core.mac import MACAddress
from ..core.units import decimal_number
from .fields import item_places, mac_value, places, where
from .spec import EXPECTATION_KINDS, Expectation, Places
from .yamlreader import MapReader, boolean, integer_between, one_of, text

MAX_PROBES = 1_000_000


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


@dataclass(frozen=True, kw_only=True)
class PingCheck(Expectation, kind="ping"):
    """What became of the ping, arping or udp session ``name``; each of the four is checked when given."""

    name: str
    succeeds: Optional[bool] = None
    loss: Optional[str] = None  # a percentage as written ("33.33")
    received: Optional[int] = None
    transmitted: Optional[int] = None

    @classmethod
    def read(cls, r: MapReader) -> PingCheck:
        check = cls(name=r.take("name", text), succeeds=r.take("succeeds", boolean, default=None),
                    loss=r.take("loss", loss_value, default=None),
                    received=r.take("received", integer_between(0, MAX_PROBES), default=None),
                    transmitted=r.take("transmitted", integer_between(0, MAX_PROBES), default=None),
                    places=places(r, "name"))
        if all(v is None for v in (check.succeeds, check.loss, check.received, check.transmitted)):
            r.error(None, "say what to check: succeeds, loss, received or transmitted")
        r.finish()
        return check


@dataclass(frozen=True, kw_only=True)
class ArpEntryCheck(Expectation, kind="arp_entry"):
    """The stack of ``on`` holds ``ip`` (an address or an interface's) at ``mac`` (None: at any MAC, or the
    named interface's), or (``absent``) has no entry for it."""

    on: str
    ip: str
    mac: Optional[MACAddress] = None
    absent: bool = False

    @classmethod
    def read(cls, r: MapReader) -> ArpEntryCheck:
        check = cls(on=r.take("on", text), ip=r.take("ip", text), mac=r.take("mac", mac_value, default=None),
                    absent=r.take("absent", boolean, default=False), places=places(r, "on", "ip"))
        if check.absent and check.mac is not None:
            r.error("mac", "give mac (the entry must hold it) or absent: true, not both")
        r.finish()
        return check


NEIGHBOUR_STATES = ("INCOMPLETE", "REACHABLE", "STALE", "DELAY", "PROBE")


@dataclass(frozen=True, kw_only=True)
class NdpEntryCheck(Expectation, kind="ndp_entry"):
    """The IPv6 neighbour cache of ``on`` holds ``ip`` (an IPv6 address, or an interface: its address ``on``
    reaches) at ``mac`` (None: at any MAC, or the named interface's) and, if given, in ``state``; or (``absent``)
    has no entry for it."""

    on: str
    ip: str
    mac: Optional[MACAddress] = None
    state: Optional[str] = None
    absent: bool = False

    @classmethod
    def read(cls, r: MapReader) -> NdpEntryCheck:
        check = cls(on=r.take("on", text), ip=r.take("ip", text), mac=r.take("mac", mac_value, default=None),
                    state=r.take("state", one_of(*NEIGHBOUR_STATES), default=None),
                    absent=r.take("absent", boolean, default=False), places=places(r, "on", "ip"))
        if check.absent and (check.mac is not None or check.state is not None):
            r.error("absent", "give mac or state (the entry must have them) or absent: true, not both")
        r.finish()
        return check


@dataclass(frozen=True, kw_only=True)
class UdpReceivedCheck(Expectation, kind="udp_received"):
    """The stack of ``on`` received UDP datagrams (to ``port``, from ``from_``: None for any): ``count`` of them,
    or (None) at least one."""

    on: str
    port: Optional[int] = None
    from_: Optional[str] = None
    count: Optional[int] = None

    @classmethod
    def read(cls, r: MapReader) -> UdpReceivedCheck:
        check = cls(on=r.take("on", text), port=r.take("port", integer_between(1, 65535), default=None),
                    from_=r.take("from", text, default=None),
                    count=r.take("count", integer_between(0, 10**12), default=None), places=places(r, "on", "from"))
        r.finish()
        return check


Rows = tuple[tuple[str, tuple[str, ...]], ...]  # (from, (to, ...)) as written


def _rows(r: MapReader, key: str) -> tuple[Rows, Places]:
    """A mapping of rows ``from: [to, ...]`` at ``key`` (``{vm1: [vm2, h1]}``) and where each name was written."""
    rows_reader = r.take_map(key, required=False)
    rows, found = [], []
    for source in rows_reader.names("interface"):
        targets = rows_reader.take_list(source, text)
        rows.append((source, tuple(targets)))
        found.append((f"{key}.{source}", where(rows_reader, source)))
        found += [(f"{key}.{source}[{i}]", place) for i, (_, place) in enumerate(item_places(rows_reader, source))]
    rows_reader.finish()
    return tuple(rows), tuple(found)


@dataclass(frozen=True, kw_only=True)
class ReachabilityCheck(Expectation, kind="reachability"):
    """Which pairs of the pingall ``name`` (None: the file's only one) reached each other: ``all`` pairs (or, with
    false, none) but the rows of ``except_``; or exactly the rows of ``reaches``. A pair reached when one of its
    echo requests was answered."""

    name: Optional[str] = None
    all: Optional[bool] = None
    except_: Rows = ()
    reaches: Optional[Rows] = None

    @classmethod
    def read(cls, r: MapReader) -> ReachabilityCheck:
        name = r.take("name", text, default=None)
        everything = r.take("all", boolean, default=None)
        exceptions, except_places = _rows(r, "except")
        reaches, reach_places = _rows(r, "reaches")
        if "all" in r.mapping and "reaches" in r.mapping:
            r.error("reaches", "give all (with except) or reaches, not both")
        elif "all" not in r.mapping and "reaches" not in r.mapping:
            r.error(None, "say which pairs reach each other: all: true (every pair; all: false, none), with except: "
                          "{from: [to, ...]} for the pairs that do not, or reaches: {from: [to, ...]} for exactly "
                          "those")
        elif "except" in r.mapping and "reaches" in r.mapping:
            r.error("except", "except goes with all: reaches lists exactly the pairs that reach each other")
        r.finish()
        return cls(name=name, all=everything, except_=exceptions, reaches=reaches if "reaches" in r.mapping else None,
                   places=places(r, "name", "all", "except", "reaches") + except_places + reach_places)

    def expected_pairs(self, members: list[str], key: Callable[[str], str]) -> set[tuple[str, str]]:
        """The ordered pairs of ``members`` that must reach each other; ``key`` maps a written name to a member."""
        listed = {(key(a), key(b)) for a, targets in (self.reaches or self.except_) for b in targets}
        if self.reaches is not None:
            return listed
        pairs = {(a, b) for a in members for b in members if a != b}
        return pairs - listed if self.all else listed


#: kind -> reader, for the docs test (every key read is documented)
GUEST_EXPECTATIONS = {kind: check.read for kind, check in EXPECTATION_KINDS.items()
                      if check.__module__ == __name__}
