"""The IPv6 neighbour cache (RFC 4861 7.3) with Linux's states, timers and defaults.

Sans-IO, on the virtual clock: every call takes ``now``; the retransmissions and the end of DELAY are timers
exposed as ``next_deadline()`` and ``due(now)``, which *return* the solicitations to send. The reference is
``net/core/neighbour.c`` and ``net/ipv6/ndisc.c`` with their defaults (``ip -6 ntable show``):

- A packet to an address without an entry creates it INCOMPLETE, waits in its queue (``unres_qlen``, 101
  packets, the oldest dropped when full) and a multicast solicitation goes to the solicited-node group at once,
  then one every ``retrans_time`` (1 s) up to ``mcast_solicit`` (3); one ``retrans_time`` after the last, the
  entry FAILS: it is removed and its packets dropped.
- A solicited advertisement makes the entry REACHABLE for ``base_reachable_time`` (30 s; Linux draws it between
  15 and 45 s, here it is exactly 30 s); then it is STALE (looked at lazily: no frame marks the change).
- Sending to a STALE entry uses it and moves it to DELAY; ``delay_first_probe_time`` (5 s) later it is
  REACHABLE again if something confirmed it meanwhile, else PROBE: unicast solicitations to the cached MAC every
  ``retrans_time`` up to ``ucast_solicit`` (3); one ``retrans_time`` after the last, the entry FAILS.
- An unsolicited advertisement with the override flag and a new MAC makes the entry STALE at that MAC (after a
  migration); without override, a new MAC only makes a REACHABLE entry STALE. Advertisements for addresses
  without an entry create none (``accept_untracked_na`` 0).
- A solicitation with a source link-layer option creates or updates the sender's entry: STALE at that MAC
  (unchanged when the MAC is the one cached).

Keys are 16 raw address bytes; MACs 6 raw bytes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from ipaddress import IPv6Address
from typing import Any, Optional

from ..core.mac import mac_str

INCOMPLETE, REACHABLE, STALE, DELAY, PROBE = "INCOMPLETE", "REACHABLE", "STALE", "DELAY", "PROBE"
BASE_REACHABLE_TIME_NS = 30 * 10**9
RETRANS_TIME_NS = 10**9
DELAY_FIRST_PROBE_TIME_NS = 5 * 10**9
MCAST_SOLICIT = 3
UCAST_SOLICIT = 3
UNRES_QLEN = 101


@dataclass
class Neighbour:
    """One entry: its state, MAC (None while INCOMPLETE), when it was last confirmed reachable, the probes sent
    in the current state, its timer (None: none) and the packets waiting for it."""

    state: str
    mac: Optional[bytes]
    confirmed_ns: int
    probes: int = 0
    timer_ns: Optional[int] = None
    queue: deque = field(default_factory=deque)


@dataclass(frozen=True)
class NeighbourRow:
    """An entry as ``ip -6 neigh`` shows it."""

    ip: str
    mac: str  # "" while INCOMPLETE
    state: str


@dataclass(frozen=True)
class Solicit:
    """A solicitation to send: for ``target``, to the cached ``mac`` (unicast) or, with None, multicast."""

    target: bytes
    mac: Optional[bytes]


class NeighbourCache:
    """The neighbour entries of one interface."""

    def __init__(self, *, reachable_ns: int = BASE_REACHABLE_TIME_NS, retrans_ns: int = RETRANS_TIME_NS,
                 delay_ns: int = DELAY_FIRST_PROBE_TIME_NS, mcast_solicit: int = MCAST_SOLICIT,
                 ucast_solicit: int = UCAST_SOLICIT, queue_limit: int = UNRES_QLEN) -> None:
        self.reachable_ns = reachable_ns
        self.retrans_ns = retrans_ns
        self.delay_ns = delay_ns
        self.mcast_solicit = mcast_solicit
        self.ucast_solicit = ucast_solicit
        self.queue_limit = queue_limit
        self.entries: dict[bytes, Neighbour] = {}
        self.failures = 0  # entries that FAILED (resolution or probing gave up)
        self.queue_drops = 0  # packets dropped from a full queue

    def state(self, ip: bytes, now: int) -> Optional[str]:
        """The entry's state at ``now`` (REACHABLE past its time is STALE), or None without an entry."""
        entry = self.entries.get(ip)
        if entry is None:
            return None
        if entry.state == REACHABLE and now - entry.confirmed_ns >= self.reachable_ns:
            entry.state = STALE
        return entry.state

    # -- sending --------------------------------------------------------------------------------------
    def output(self, ip: bytes, packet: Any, now: int) -> tuple[Optional[bytes], Optional[Solicit]]:
        """Send ``packet`` to ``ip``: the MAC to send it to now (None: it waits in the queue), and a solicitation
        to send first (a new resolution)."""
        state = self.state(ip, now)
        if state is None:
            entry = self.entries[ip] = Neighbour(INCOMPLETE, None, now, probes=1, timer_ns=now + self.retrans_ns)
            entry.queue.append(packet)
            return None, Solicit(ip, None)
        entry = self.entries[ip]
        if state == INCOMPLETE:
            if len(entry.queue) >= self.queue_limit:
                entry.queue.popleft()
                self.queue_drops += 1
            entry.queue.append(packet)
            return None, None
        if state == STALE:
            entry.state, entry.timer_ns = DELAY, now + self.delay_ns
        return entry.mac, None

    # -- receiving ------------------------------------------------------------------------------------
    def advertised(self, ip: bytes, mac: Optional[bytes], solicited: bool, override: bool, now: int
                   ) -> list[tuple[Any, bytes]]:
        """A neighbour advertisement for ``ip`` (``mac``: its target link-layer option); return the packets that
        waited for it, with the MAC to send them to."""
        entry = self.entries.get(ip)
        if entry is None:
            return []
        state = self.state(ip, now)
        if state == INCOMPLETE:
            if mac is None:
                return []
            entry.mac = mac
            return self._release(entry, REACHABLE if solicited else STALE, now)
        changed = mac is not None and mac != entry.mac
        if changed and not override:
            if state == REACHABLE:
                entry.state, entry.timer_ns = STALE, None
            return []
        if changed:
            entry.mac = mac
        if solicited:
            entry.state, entry.confirmed_ns, entry.probes, entry.timer_ns = REACHABLE, now, 0, None
        elif changed:
            entry.state, entry.probes, entry.timer_ns = STALE, 0, None
        return []

    def solicited_by(self, ip: bytes, mac: bytes, now: int) -> list[tuple[Any, bytes]]:
        """A solicitation from ``ip`` carrying its MAC: the entry becomes STALE at ``mac`` unless it already holds
        it; return the packets that waited for it."""
        entry = self.entries.get(ip)
        if entry is None:
            self.entries[ip] = Neighbour(STALE, mac, now - self.reachable_ns)
            return []
        if self.state(ip, now) == INCOMPLETE:
            entry.mac = mac
            return self._release(entry, STALE, now)
        if mac != entry.mac:
            entry.mac, entry.state, entry.probes, entry.timer_ns = mac, STALE, 0, None
        return []

    def _release(self, entry: Neighbour, state: str, now: int) -> list[tuple[Any, bytes]]:
        """The entry resolved (to ``state``): its queued packets go out; sending them to a STALE entry starts
        DELAY, as Linux's resolve output does."""
        entry.state, entry.probes, entry.timer_ns = state, 0, None
        if state == REACHABLE:
            entry.confirmed_ns = now
        packets = list(entry.queue)
        entry.queue.clear()
        if packets and state == STALE:
            entry.state, entry.timer_ns = DELAY, now + self.delay_ns
        assert entry.mac is not None
        return [(packet, entry.mac) for packet in packets]

    # -- timers ---------------------------------------------------------------------------------------
    def next_deadline(self) -> Optional[int]:
        """When ``due`` has something to do: a retransmission, the end of DELAY or a failure."""
        return min((e.timer_ns for e in self.entries.values() if e.timer_ns is not None), default=None)

    def due(self, now: int) -> tuple[list[Solicit], list[tuple[bytes, list[Any]]]]:
        """The solicitations to send now, and the entries that failed (with their dropped packets)."""
        solicits: list[Solicit] = []
        failed: list[tuple[bytes, list[Any]]] = []
        for ip in sorted(ip for ip, e in self.entries.items() if e.timer_ns is not None and e.timer_ns <= now):
            entry = self.entries[ip]
            if entry.state == DELAY:
                if now - entry.confirmed_ns <= self.delay_ns:  # confirmed meanwhile (neigh_timer_handler)
                    entry.state, entry.timer_ns = REACHABLE, None
                    continue
                entry.state, entry.probes = PROBE, 0
            limit = self.mcast_solicit if entry.state == INCOMPLETE else self.ucast_solicit
            if entry.probes < limit:
                entry.probes += 1
                entry.timer_ns = now + self.retrans_ns
                solicits.append(Solicit(ip, entry.mac if entry.state == PROBE else None))
            else:
                del self.entries[ip]
                self.failures += 1
                failed.append((ip, list(entry.queue)))
        return solicits, failed

    # -- reports --------------------------------------------------------------------------------------
    def rows(self, now: int) -> list[NeighbourRow]:
        """Entries sorted by address, with their state at ``now``."""
        return [NeighbourRow(str(IPv6Address(ip)), mac_str(self.entries[ip].mac or b"") if self.entries[ip].mac
                             else "", self.state(ip, now) or "") for ip in sorted(self.entries)]

    def __len__(self) -> int:
        return len(self.entries)
