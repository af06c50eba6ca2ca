"""What a guest's applications did: ping, arping and UDP sender sessions, with ping-style statistics.

A session counts its probes (``sent``: sequence number -> virtual send time) and the answers matched to them
(``rtts``: sequence number -> round-trip time in ns). An answer later than ``timeout_ns`` after its probe counts
as lost, like ``ping -W``. Statistics follow iputils ping's summary::

    3 packets transmitted, 3 received, 0% packet loss
    rtt min/avg/max/mdev = 0.022/0.025/0.030/0.004 ms

computed from integer nanoseconds (``mdev`` with an integer square root), so they are the same on every machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from ipaddress import IPv4Address
from typing import Any, Optional

from .inet import address_value

DEFAULT_PING_TIMEOUT_NS = 10**9


@dataclass
class Session:
    """One run of a probing application from ``source`` to ``target`` (``dst_ip``: an ``IPv4Address`` or its
    literal; anything else raises ``AddressError``)."""

    name: str
    source: str  # interface name, e.g. vm1.eth0
    target: str  # what the file named: an interface or an address
    dst_ip: IPv4Address
    count: int
    timeout_ns: int = DEFAULT_PING_TIMEOUT_NS
    sent: dict[int, int] = field(default_factory=dict)
    rtts: dict[int, int] = field(default_factory=dict)
    late: int = 0  # answers that came after timeout_ns
    duplicates: int = 0
    errors: int = 0  # probes dropped by the sender's stack (ARP resolution failed)

    kind = "session"

    def __post_init__(self) -> None:
        self.dst_ip = address_value(self.dst_ip)  # a literal or an IPv4Address: never a name to look up

    def record_sent(self, seq: int, now: int) -> None:
        self.sent[seq] = now

    def record_answer(self, seq: int, now: int) -> bool:
        """An answer to probe ``seq`` arrived at ``now``; False if it does not count (unknown, duplicate, late)."""
        sent = self.sent.get(seq)
        if sent is None:
            return False
        if seq in self.rtts:
            self.duplicates += 1
            return False
        if now - sent > self.timeout_ns:
            self.late += 1
            return False
        self.rtts[seq] = now - sent
        return True

    # -- statistics ------------------------------------------------------------------------------------
    @property
    def transmitted(self) -> int:
        return len(self.sent)

    @property
    def received(self) -> int:
        return len(self.rtts)

    @property
    def loss(self) -> Fraction:
        """Lost share of the probes sent, as an exact percentage (0 when nothing was sent)."""
        if not self.sent:
            return Fraction(0)
        return Fraction(100 * (self.transmitted - self.received), self.transmitted)

    @property
    def succeeded(self) -> bool:
        """Like ping's exit status: at least one answer."""
        return self.received > 0

    def rtt_ns(self) -> Optional[tuple[int, int, int, int]]:
        """(min, avg, max, mdev) in ns, or None without answers; avg rounded to the nearest ns."""
        values = list(self.rtts.values())
        if not values:
            return None
        n = len(values)
        total = sum(values)
        avg = (2 * total + n) // (2 * n)
        variance = max(0, sum(v * v for v in values) * n - total * total) // (n * n)
        return min(values), avg, max(values), math.isqrt(variance)

    def summary(self) -> dict[str, Any]:
        """A plain row for reports and JSON."""
        rtt = self.rtt_ns()
        return {
            "name": self.name, "kind": self.kind, "from": self.source, "to": f"{self.target} ({self.dst_ip})"
            if self.target != str(self.dst_ip) else self.target,
            "transmitted": self.transmitted, "received": self.received, "loss": format_loss(self.loss),
            "rtt min/avg/max/mdev": "/".join(format_ms(v) for v in rtt) + " ms" if rtt else "-",
            "errors": self.errors,
        }

    def summary_text(self) -> str:
        """ping's own two summary lines."""
        line = (f"{self.transmitted} packets transmitted, {self.received} received, "
                + (f"+{self.errors} errors, " if self.errors else "") + f"{format_loss(self.loss)} packet loss")
        rtt = self.rtt_ns()
        if rtt:
            line += "\nrtt min/avg/max/mdev = " + "/".join(format_ms(v) for v in rtt) + " ms"
        return line


@dataclass
class PingSession(Session):
    """ICMP echo requests with identifier ``ident``; answers are echo replies with that identifier."""

    ident: int = 0
    size: int = 56
    interval_ns: int = 10**9
    kind = "ping"


@dataclass
class ArpingSession(Session):
    """ARP requests for ``dst_ip`` (iputils arping: broadcast until the first reply, then unicast to it)."""

    interval_ns: int = 10**9
    target_mac: Optional[bytes] = None
    kind = "arping"

    def record_reply(self, mac: bytes, now: int) -> bool:
        """A reply from the target: it answers the oldest unanswered probe (arping counts every reply)."""
        self.target_mac = self.target_mac or mac
        for seq in sorted(self.sent):
            if seq not in self.rtts:
                return self.record_answer(seq, now)
        self.duplicates += 1
        return False


@dataclass
class UdpSession(Session):
    """UDP datagrams from ``sport`` to ``dport``; answers are datagrams echoed back (the echo service, port 7),
    matched by the 4-byte sequence number at the start of the payload."""

    sport: int = 0
    dport: int = 9
    size: int = 0
    bytes_sent: int = 0
    kind = "udp"

    def summary(self) -> dict[str, Any]:
        row = super().summary()
        row["transmitted"] = self.transmitted
        row["received"] = self.received if self.dport == 7 else "-"  # only the echo service answers
        row["loss"] = row["loss"] if self.dport == 7 else "-"
        return row


def format_ms(ns: int) -> str:
    """Milliseconds with 3 decimals, rounded half up, as ping prints them."""
    us = (ns + 500) // 1000
    return f"{us // 1000}.{us % 1000:03d}"


def format_loss(loss: Fraction) -> str:
    """ping's ``%g%%``: ``0%``, ``25%``, ``33.3333%``."""
    return f"{float(loss):g}%"


def loss_matches(actual: Fraction, written: str) -> bool:
    """Whether ``actual`` is the loss a file wrote (``25%``, ``33.33%``): equal at the precision written;
    0% and 100% are exact."""
    number = Fraction(written)
    if number in (0, 100):
        return actual == number
    decimals = len(written.partition(".")[2])
    step = Fraction(1, 10**decimals)
    return abs(actual - number) * 2 <= step and not (abs(actual - number) * 2 == step and actual < number)
