"""The forwarding database of a learning switch, keyed by (VLAN, MAC), with Linux-bridge ageing.

Ageing is evaluated against ``now`` (a learned entry not refreshed for ``ageing_ns`` is gone, as the kernel's
``has_expired`` check treats it); ``expire(now)`` purges such entries and ``next_deadline()`` tells when the next
one lapses. A finite table follows one of two policies when full:

- ``refuse`` (Linux ``fdb_max_learned``): new addresses are not learned, existing ones stay;
- ``evict`` (Open vSwitch): the least recently used entry of the port holding the most entries makes room.

``listeners`` are told when a source is learned anew or moves to another port (captures comment on it, reports
list the moves); refreshing a known entry, the common case, never looks at them, so nobody listening costs nothing.
``ageing_listeners`` are told when an entry found aged out is removed, with the instant it aged (the HTML report's
MAC table history).
"""

from __future__ import annotations

from enum import Enum
from typing import Callable, Final, NamedTuple

from ..core import checks
from ..core.errors import TopologyError
from ..core.mac import MACAddress, mac_str

DEFAULT_AGEING_NS: Final = 300_000_000_000  # 300 s, the Linux bridge default (a literal, so help() shows it)

#: ``(now, vlan, mac, port, old_port)``: ``mac`` was learned on ``port`` (``old_port`` None) or moved there from
#: ``old_port``. Port names are the switch's short ones (``p2``).
FdbListener = Callable[[int, int, bytes, str, "str | None"], None]
#: ``(aged_ns, vlan, mac, port)``: the entry of ``mac`` on ``port`` aged out at ``aged_ns`` (its last refresh plus
#: the ageing time; it is removed when next looked at, or by ``expire``).
AgeingListener = Callable[[int, int, bytes, str], None]


class TablePolicy(Enum):
    REFUSE = "refuse"
    EVICT = "evict"

    @classmethod
    def _missing_(cls, value: object) -> "TablePolicy":
        """``TablePolicy("bogus")`` is a TopologyError naming the policies, not the Enum's bare ValueError."""
        raise TopologyError(f"table policy {value!r}: choose refuse or evict")


# Set after the class: mypyc gives a compiled module's Enum the docstring "mypyc filler docstring" (and refuses a
# plain assignment to a class attribute here).
setattr(TablePolicy, "__doc__", """What a full table does with a new MAC: ``REFUSE`` it (Linux ``fdb_max_learned``; frames
to it are flooded) or ``EVICT`` the least recently seen entry of the port with the most entries (Open vSwitch).""")


class LearnResult(Enum):
    REFRESHED = "refreshed"
    LEARNED = "learned"
    MOVED = "moved"
    REFUSED = "refused: table full"
    EVICTED = "learned after evicting the least recently used entry"
    STATIC = "static entry kept"
    NOT_LEARNING = "not learned: ageing time is 0"


# Bound once: looking up an enum member costs as much as a dict insert, and learn() runs for every frame.
_REFRESHED: Final = LearnResult.REFRESHED
_LEARNED: Final = LearnResult.LEARNED
_MOVED: Final = LearnResult.MOVED
_REFUSED: Final = LearnResult.REFUSED
_STATIC: Final = LearnResult.STATIC


class FdbEntry:
    """One table entry, under its key (``vlan``, ``mac``); ``updated_ns`` is the last time the source was seen (or
    the time it was added); ``in_table`` turns False when it is removed (aged, flushed, evicted, replaced)."""

    __slots__ = ("port", "updated_ns", "is_static", "vlan", "mac", "in_table")

    def __init__(self, port: str, updated_ns: int, is_static: bool, vlan: int, mac: bytes) -> None:
        self.port = port
        self.updated_ns = updated_ns
        self.is_static = is_static
        self.vlan = vlan
        self.mac = mac
        self.in_table = True


class TableRow(NamedTuple):
    """A row of ``ForwardingTable.rows()`` for reports and tests."""

    vlan: int
    mac: str
    port: str
    age_ns: int
    static: bool


class ForwardingTable:
    """(VLAN, MAC) -> port, with ageing, static entries, moves and a size limit."""

    def __init__(self, ageing_ns: object = DEFAULT_AGEING_NS, limit: object = None,
                 policy: object = "refuse") -> None:
        if isinstance(ageing_ns, bool) or not isinstance(ageing_ns, int):
            raise TopologyError(f"ageing must be an int of nanoseconds, not {checks.describe(ageing_ns)}")
        if ageing_ns < 0:
            raise TopologyError(f"ageing must be >= 0 ns, got {ageing_ns}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise TopologyError(f"table limit must be an int or None, not {checks.describe(limit)}")
        if limit is not None and limit < 0:
            raise TopologyError(f"table limit must be >= 0, got {limit}")
        self.ageing_ns = ageing_ns
        self.limit = limit
        self.policy = TablePolicy(policy)
        #: VLAN -> MAC -> entry: two plain lookups per frame are cheaper than one keyed by a (VLAN, MAC) tuple (a
        #: tuple made, hashed and compared per lookup).
        self._vlans: dict[int, dict[bytes, FdbEntry]] = {}
        #: VLAN 1's, the table of every frame of a switch without VLAN filtering, is at hand without a lookup.
        self._vlan1: dict[bytes, FdbEntry] = self._vlans.setdefault(1, {})
        self.learned_count = 0  # dynamic entries (what the limit counts, like fdb_n_learned)
        self._per_port: dict[str, int] = {}  # dynamic entries per port (port security counts them)
        self.refused = 0
        self.evicted = 0
        self.moves = 0
        self.listeners: list[FdbListener] = []
        self.ageing_listeners: list[AgeingListener] = []
        #: Port -> the entry its last frame's source was learned or refreshed in. A port mostly sends from the MAC
        #: it sent from before, and comparing six bytes is cheaper than hashing a new key (``learn``).
        self._recent: dict[str, FdbEntry] = {}

    # -- lookups on the fast path --------------------------------------------------------------
    def lookup(self, vlan: int, mac: bytes, now: int) -> str | None:
        """The port for (vlan, mac), or None if unknown or aged out."""
        macs = self._vlan1 if vlan == 1 else self._vlans.get(vlan)
        entry = macs.get(mac) if macs is not None else None
        if entry is None:
            return None
        if entry.is_static or now - entry.updated_ns < self.ageing_ns:
            return entry.port
        self._remove_aged((vlan, mac), entry)
        return None

    def learn(self, vlan: int, mac: bytes, port: str, now: int) -> LearnResult:
        """Record that ``mac`` was seen as a source on ``port``."""
        entry = self._recent.get(port)  # the table's entry for (vlan, mac) if the port's last source was the same
        if entry is None or not entry.in_table or entry.mac != mac or entry.vlan != vlan:
            macs = self._vlan1 if vlan == 1 else self._vlans.get(vlan)
            entry = macs.get(mac) if macs is not None else None
            if entry is not None:
                self._recent[port] = entry
        if entry is not None:
            if entry.is_static:
                return _STATIC
            if now - entry.updated_ns < self.ageing_ns:
                entry.updated_ns = now
                if entry.port == port:
                    return _REFRESHED
                old = entry.port
                per_port = self._per_port
                per_port[old] -= 1
                per_port[port] = per_port.get(port, 0) + 1
                entry.port = port
                self.moves += 1
                if self.listeners:
                    self._tell(now, vlan, mac, port, old)
                return _MOVED
            self._remove_aged((vlan, mac), entry)  # aged out: learned afresh below
        if self.ageing_ns == 0:
            return LearnResult.NOT_LEARNING  # entries would expire at once
        result = _LEARNED
        if self.limit is not None and self.learned_count >= self.limit:
            self.expire(now)
        if self.limit is not None and self.learned_count >= self.limit:
            if self.policy is TablePolicy.REFUSE or not self._evict_fairly():
                self.refused += 1
                return _REFUSED
            result = LearnResult.EVICTED
        entry = self._recent[port] = FdbEntry(port, now, False, vlan, mac)
        self._vlans.setdefault(vlan, {})[mac] = entry
        self.learned_count += 1
        self._per_port[port] = self._per_port.get(port, 0) + 1
        if self.listeners:
            self._tell(now, vlan, mac, port, None)
        return result

    # -- management -----------------------------------------------------------------------------
    # The entry points below check their arguments (``mac``: 6 bytes, text or a MACAddress); the lookups above
    # and ``knows``/``learned_on``/``expire``, which the switch calls per frame, take exact types unchecked.
    def add_static(self, vlan: object, mac: object, port: object) -> None:
        """A permanent entry (``bridge fdb add ... static``): never aged, never moved by learning."""
        key = (_vlan(vlan), MACAddress(mac).packed)
        name = checks.text(port, "static entry: port")
        old = self._entry(key)
        if old is not None:
            self._remove(key, old)
        self._vlans.setdefault(key[0], {})[key[1]] = FdbEntry(name, 0, True, key[0], key[1])

    def remove(self, vlan: object, mac: object) -> bool:
        """Forget ``mac`` in ``vlan`` (``bridge fdb del``); True if there was an entry."""
        key = (_vlan(vlan), MACAddress(mac).packed)
        entry = self._entry(key)
        if entry is None:
            return False
        self._remove(key, entry)
        return True

    def flush_port(self, port: object, keep_vlans: frozenset[int] | None = None) -> int:
        """Forget the dynamic entries learned on ``port`` (as on link down), except those of ``keep_vlans``;
        return how many went."""
        name = checks.text(port, "flush_port: port")
        doomed = [(k, e) for k, e in self._items() if e.port == name and not e.is_static
                  and (keep_vlans is None or k[0] not in keep_vlans)]
        for key, entry in doomed:
            self._remove(key, entry)
        return len(doomed)

    def expire(self, now: int) -> int:
        """Drop every dynamic entry older than the ageing time; return how many went."""
        ageing = self.ageing_ns
        doomed = [(k, e) for k, e in self._items() if not e.is_static and now - e.updated_ns >= ageing]
        for key, entry in doomed:
            self._remove_aged(key, entry)
        return len(doomed)

    def next_deadline(self) -> int | None:
        """When the oldest dynamic entry ages out, or None if there is none."""
        times = [e.updated_ns for _, e in self._items() if not e.is_static]
        return min(times) + self.ageing_ns if times else None

    def rows(self, now: object) -> list[TableRow]:
        """Live entries sorted by (VLAN, MAC), with their age at ``now``."""
        at = checks.nanoseconds(now, "rows: now")
        self.expire(at)
        return [TableRow(vlan, mac_str(mac), e.port, 0 if e.is_static else at - e.updated_ns, e.is_static)
                for (vlan, mac), e in sorted(self._items(), key=lambda item: item[0])]

    def entries_on(self, port: object) -> int:
        """How many entries, learned or static, point at ``port``."""
        return sum(1 for _, e in self._items() if e.port == port)

    def learned_on(self, port: str) -> int:
        """Dynamic entries on ``port`` (aged ones included until something purges them)."""
        return self._per_port.get(port, 0)

    def knows(self, vlan: int, mac: bytes, port: str, now: int) -> bool:
        """Whether (vlan, mac) has a live entry on ``port``."""
        entry = self._entry((vlan, mac))
        return entry is not None and entry.port == port and (entry.is_static or now - entry.updated_ns < self.ageing_ns)

    def __len__(self) -> int:
        return sum(len(macs) for macs in self._vlans.values())

    # -- internals ------------------------------------------------------------------------------
    def _entry(self, key: tuple[int, bytes]) -> FdbEntry | None:
        macs = self._vlans.get(key[0])
        return macs.get(key[1]) if macs is not None else None

    def _items(self) -> list[tuple[tuple[int, bytes], FdbEntry]]:
        """Every ((VLAN, MAC), entry), in no particular order."""
        return [((vlan, mac), entry) for vlan, macs in self._vlans.items() for mac, entry in macs.items()]

    def _tell(self, now: int, vlan: int, mac: bytes, port: str, old: str | None) -> None:
        for listener in self.listeners:
            listener(now, vlan, mac, port, old)

    def _remove(self, key: tuple[int, bytes], entry: FdbEntry) -> None:
        del self._vlans[key[0]][key[1]]
        entry.in_table = False  # a port's ``_recent`` may still point at it
        if not entry.is_static:
            self.learned_count -= 1
            self._per_port[entry.port] -= 1

    def _remove_aged(self, key: tuple[int, bytes], entry: FdbEntry) -> None:
        self._remove(key, entry)
        for listener in self.ageing_listeners:
            listener(entry.updated_ns + self.ageing_ns, key[0], key[1], entry.port)

    def _evict_fairly(self) -> bool:
        """Open vSwitch's policy: drop the LRU dynamic entry of the port with the most entries."""
        per_port: dict[str, int] = {}
        for _, entry in self._items():
            if not entry.is_static:
                per_port[entry.port] = per_port.get(entry.port, 0) + 1
        if not per_port:
            return False
        busiest = max(sorted(per_port), key=lambda p: per_port[p])
        key, entry = min(((k, e) for k, e in self._items() if e.port == busiest and not e.is_static),
                         key=lambda item: (item[1].updated_ns, item[0]))
        self._remove(key, entry)
        self.evicted += 1
        return True


def learning_text(switch: str, vlan: int | None, mac: bytes, port: str, old: str | None) -> str:
    """``learned 52:54:00:00:00:01 on sw1.p2`` or ``moved 52:54:00:00:00:01 from sw1.p2 to sw1.p4`` (``vlan``:
    None without VLAN filtering), for captures and reports."""
    what = mac_str(mac) if vlan is None else f"{mac_str(mac)} in VLAN {vlan}"
    if old is None:
        return f"learned {what} on {switch}.{port}"
    return f"moved {what} from {switch}.{old} to {switch}.{port}"


def _vlan(vlan: object) -> int:
    """A table's VLAN key: 1 without VLAN filtering, else the VID (0 and 4095 are the reserved values)."""
    return checks.integer(vlan, "static entry: vlan", maximum=4095)
