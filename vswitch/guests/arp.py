"""A guest's ARP cache: IPv4-to-MAC entries that expire, and resolutions in progress with their waiting packets.

Sans-IO, on the virtual clock: every call takes ``now``; entries expire lazily (an entry older than ``timeout_ns``
is gone when next looked at); retransmissions are timers exposed as ``next_deadline()`` and ``due(now)``.

The reference is Linux's neighbour table with its defaults, simplified:

- a packet to an unresolved address waits in a per-address queue (``unres_qlen``, 101 packets; the oldest is
  dropped when full) while ARP requests go out: the first at once, then every ``retrans_time`` (1 s) up to
  ``mcast_solicit`` (3) requests; one ``retrans_time`` after the last, the resolution fails and the queue is
  dropped;
- a reply (or a request) from the address being resolved completes it and releases the queue, in order;
- an entry is trusted for ``timeout_ns`` after it was last confirmed (Linux: ``base_reachable_time`` 30 s,
  randomised 15-45 s, then STALE with a unicast re-probe); here it is then forgotten, and the next packet
  resolves the address again with a broadcast request.

Keys are 4 raw address bytes; MACs 6 raw bytes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any, Final

from ..core.errors import TopologyError
from ..core.mac import mac_str

# Literal ``Final`` constants: the compiled build's signatures show defaults that are literals only.
DEFAULT_TIMEOUT_NS: Final = 30_000_000_000  # base_reachable_time
DEFAULT_RETRIES: Final = 3  # mcast_solicit: broadcast requests before giving up
DEFAULT_RETRY_NS: Final = 1_000_000_000  # retrans_time
DEFAULT_QUEUE_LIMIT: Final = 101  # unres_qlen


@dataclass
class ArpEntry:
    mac: bytes
    confirmed_ns: int


@dataclass
class Resolution:
    """An address being resolved: requests sent so far, when the next is due, the packets waiting for it."""

    requests: int
    next_ns: int
    queue: deque = field(default_factory=deque)


@dataclass(frozen=True)
class ArpRow:
    ip: str
    mac: str
    age_ns: int
    expires_in_ns: int


class ArpCache:
    """Entries and resolutions of one interface."""

    def __init__(self, timeout_ns: int = DEFAULT_TIMEOUT_NS, *, retries: int = DEFAULT_RETRIES,
                 retry_ns: int = DEFAULT_RETRY_NS, queue_limit: int = DEFAULT_QUEUE_LIMIT) -> None:
        values = (timeout_ns, retries, retry_ns, queue_limit)
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
            raise TopologyError("ARP timeout, retries, retry interval and queue limit must be positive")
        self.timeout_ns = timeout_ns
        self.retries = retries
        self.retry_ns = retry_ns
        self.queue_limit = queue_limit
        self.entries: dict[bytes, ArpEntry] = {}
        self.pending: dict[bytes, Resolution] = {}
        self.queue_drops = 0  # packets dropped from a full queue
        self.failures = 0  # resolutions that gave up

    # -- entries --------------------------------------------------------------------------------------
    def lookup(self, ip: bytes, now: int) -> bytes | None:
        """The MAC of ``ip`` if a live entry holds it (an expired entry is removed)."""
        entry = self.entries.get(ip)
        if entry is None:
            return None
        if now - entry.confirmed_ns >= self.timeout_ns:
            del self.entries[ip]
            return None
        return entry.mac

    def known(self, ip: bytes, now: int) -> bool:
        return self.lookup(ip, now) is not None or ip in self.pending

    def confirm(self, ip: bytes, mac: bytes, now: int) -> list[Any]:
        """Record ``ip`` at ``mac`` as of ``now``; return the packets that waited for it, oldest first."""
        self.entries[ip] = ArpEntry(mac, now)
        resolution = self.pending.pop(ip, None)
        return list(resolution.queue) if resolution is not None else []

    def remove(self, ip: bytes) -> bool:
        return self.entries.pop(ip, None) is not None

    # -- resolution -----------------------------------------------------------------------------------
    def resolve(self, ip: bytes, packet: Any, now: int) -> bool:
        """Queue ``packet`` until ``ip`` resolves; True if a new resolution starts (send a request now)."""
        found = self.pending.get(ip)
        started = found is None
        resolution = self.pending[ip] = Resolution(1, now + self.retry_ns) if found is None else found
        if len(resolution.queue) >= self.queue_limit:
            resolution.queue.popleft()
            self.queue_drops += 1
        resolution.queue.append(packet)
        return started

    def next_deadline(self) -> int | None:
        """When ``due`` has something to do: the earliest retransmission or failure."""
        if not self.pending:  # the common case, asked after every frame a stack sends or receives
            return None
        return min(r.next_ns for r in self.pending.values())

    def due(self, now: int) -> tuple[list[bytes], list[tuple[bytes, list[Any]]]]:
        """Addresses to send another request for now, and resolutions that failed (with their dropped packets)."""
        retry, failed = [], []
        for ip in sorted(ip for ip, r in self.pending.items() if r.next_ns <= now):
            resolution = self.pending[ip]
            if resolution.requests < self.retries:
                resolution.requests += 1
                resolution.next_ns = now + self.retry_ns
                retry.append(ip)
            else:
                del self.pending[ip]
                self.failures += 1
                failed.append((ip, list(resolution.queue)))
        return retry, failed

    # -- reports --------------------------------------------------------------------------------------
    def rows(self, now: int) -> list[ArpRow]:
        """Live entries sorted by address (``ip neigh``), for reports and expectations."""
        rows = []
        for ip in sorted(self.entries):
            entry = self.entries[ip]
            age = now - entry.confirmed_ns
            if age < self.timeout_ns:
                rows.append(ArpRow(str(IPv4Address(ip)), mac_str(entry.mac), age, self.timeout_ns - age))
        return rows

    def __len__(self) -> int:
        return len(self.entries)
