"""What a guest's applications did: ping, arping and UDP sender sessions, with ping-style statistics.

A session counts its probes (``transmitted``) and the answers matched to them (``received``, with running sums
of their round-trip times in ns, and ``rtts`` one by one for the first probes). An answer later than ``timeout_ns`` after its probe counts
as lost, like ``ping -W``. Statistics follow iputils ping's summary::

    3 packets transmitted, 3 received, 0% packet loss
    rtt min/avg/max/mdev = 0.022/0.025/0.030/0.004 ms

computed from integer nanoseconds (``mdev`` with an integer square root), so they are the same on every machine.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Optional

from ..core import checks
from ..core.errors import AddressError, ScenarioError
from .inet6 import AnyAddress, any_address_value

DEFAULT_PING_TIMEOUT_NS = 10**9


RTTS_KEPT = 1_000  # round-trip times kept one by one (``rtts``); the statistics cover every probe


@dataclass
class Session:
    """One run of a probing application from ``source`` to ``target`` (``dst_ip``: an ``IPv4Address``, an
    ``IPv6Address`` or its literal; anything else raises ``AddressError``).

    Probes carry sequence numbers that go up by one from the first. Memory does not grow with ``count``: the
    statistics are running sums, answered probes are bits, and send times are kept only for the probes whose
    answer could still come in time (those sent within ``timeout_ns``). ``rtts`` holds the round-trip times of
    the first ``RTTS_KEPT`` probes, by sequence number, for tests and people.
    """

    name: str
    source: str  # interface name, e.g. vm1.eth0
    target: str  # what the file named: an interface or an address
    dst_ip: AnyAddress
    count: int
    timeout_ns: int = DEFAULT_PING_TIMEOUT_NS
    rtts: dict[int, int] = field(default_factory=dict)
    late: int = 0  # answers that came after timeout_ns
    duplicates: int = 0
    errors: int = 0  # probes dropped by the sender's stack (ARP resolution failed)
    transmitted: int = 0
    received: int = 0
    _first: Optional[int] = field(default=None, repr=False)  # sequence number of the first probe
    _window_start: int = field(default=0, repr=False)  # sequence number of _send_times[0]
    _send_times: array = field(default_factory=lambda: array("q"), repr=False)
    _in_time: int = field(default=0, repr=False)  # _send_times[:_in_time] are too old to be answered in time
    _answered: bytearray = field(default_factory=bytearray, repr=False)  # bit per probe, from _first
    _rtt_sum: int = field(default=0, repr=False)
    _rtt_squares: int = field(default=0, repr=False)
    _rtt_min: int = field(default=0, repr=False)
    _rtt_max: int = field(default=0, repr=False)

    kind = "session"
    wrap = 1 << 32  # sequence numbers on the wire are taken modulo this (ICMP's are 16 bits)

    def __post_init__(self) -> None:
        """Check the fields a caller gives: a wrong type or value is a ScenarioError (an AddressError for
        ``dst_ip``, which may also be written as text)."""
        for what in ("name", "source", "target"):
            checks.text(getattr(self, what), f"{self.kind} session: {what}", error=ScenarioError)
        try:  # a literal or an address: never a name to look up
            self.dst_ip = any_address_value(self.dst_ip)
        except AddressError as exc:
            raise AddressError(f"{self.kind} session {self.name}: dst_ip: {exc}") from None
        self._check_ints(count=None, timeout_ns=None)

    def _check_ints(self, **maxima: int | None) -> None:
        for what, maximum in maxima.items():
            checks.integer(getattr(self, what), f"{self.kind} session {self.name}: {what}", maximum=maximum,
                           error=ScenarioError)

    def record_sent(self, seq: int, now: int) -> None:
        """Probe ``seq`` (the next in line) went out at ``now``."""
        if self._first is None:
            self._first = self._window_start = seq
        elif seq != self._window_start + len(self._send_times):
            raise ScenarioError(f"session {self.name}: probe {seq} sent out of order, the next is "
                                f"{self._window_start + len(self._send_times)}")
        self._expire(now)
        self._send_times.append(now)
        self.transmitted += 1
        index = seq - self._first
        if index >> 3 >= len(self._answered):
            self._answered.extend(bytes(max(64, len(self._answered))))

    def _expire(self, now: int) -> None:
        """Pass over the probes whose answer would now be late (the clock only goes forward); forget their send
        times in bulk, so that each probe costs O(1) however many are in flight."""
        times, old = self._send_times, self._in_time
        while old < len(times) and now - times[old] > self.timeout_ns:
            old += 1
        if old > 64 and old * 2 > len(times):
            del times[:old]
            self._window_start += old
            old = 0
        self._in_time = old

    def _sequence(self, wire: int) -> Optional[int]:
        """The probe an answer carrying ``wire`` answers: the latest sent with that number modulo ``wrap``."""
        if self._first is None:
            return None
        last = self._window_start + len(self._send_times) - 1
        seq = last - (last - wire) % self.wrap
        return seq if seq >= self._first else None

    def _is_answered(self, seq: int) -> bool:
        index = seq - self._first  # type: ignore[operator]  # set: _sequence found seq, so a probe was sent
        return bool(self._answered[index >> 3] & (1 << (index & 7)))

    def record_answer(self, wire: int, now: int) -> bool:
        """An answer carrying sequence number ``wire`` arrived at ``now``; False if it does not count (unknown,
        duplicate, late)."""
        seq = self._sequence(wire)
        if seq is None:
            return False
        if self._is_answered(seq):
            self.duplicates += 1
            return False
        self._expire(now)
        if seq < self._window_start or now - self._send_times[seq - self._window_start] > self.timeout_ns:
            self.late += 1  # (a forgotten send time was too old already)
            return False
        rtt = now - self._send_times[seq - self._window_start]
        index = seq - self._first  # type: ignore[operator]  # set: _sequence found seq, so a probe was sent
        self._answered[index >> 3] |= 1 << (index & 7)
        if index < RTTS_KEPT:
            self.rtts[seq] = rtt
        self._rtt_min = rtt if not self.received else min(self._rtt_min, rtt)
        self._rtt_max = max(self._rtt_max, rtt)
        self._rtt_sum += rtt
        self._rtt_squares += rtt * rtt
        self.received += 1
        return True

    # -- statistics ------------------------------------------------------------------------------------
    @property
    def loss(self) -> Fraction:
        """Lost share of the probes sent, as an exact percentage (0 when nothing was sent)."""
        if not self.transmitted:
            return Fraction(0)
        return Fraction(100 * (self.transmitted - self.received), self.transmitted)

    @property
    def succeeded(self) -> bool:
        """Like ping's exit status: at least one answer."""
        return self.received > 0

    def rtt_ns(self) -> Optional[tuple[int, int, int, int]]:
        """(min, avg, max, mdev) in ns, or None without answers; avg rounded to the nearest ns."""
        n = self.received
        if not n:
            return None
        total = self._rtt_sum
        avg = (2 * total + n) // (2 * n)
        variance = max(0, self._rtt_squares * n - total * total) // (n * n)
        return self._rtt_min, avg, self._rtt_max, math.isqrt(variance)

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
    wrap = 1 << 16

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_ints(ident=0xFFFF, size=None, interval_ns=None)


@dataclass
class ArpingSession(Session):
    """ARP requests for ``dst_ip`` (iputils arping: broadcast until the first reply, then unicast to it)."""

    interval_ns: int = 10**9
    target_mac: Optional[bytes] = None
    _oldest_open: int = field(default=0, repr=False)  # no probe before this one is unanswered
    kind = "arping"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_ints(interval_ns=None)

    def record_reply(self, mac: bytes, now: int) -> bool:
        """A reply from the target: it answers the oldest unanswered probe (arping counts every reply)."""
        self.target_mac = self.target_mac or mac
        if self._first is not None:
            last = self._window_start + len(self._send_times) - 1
            while self._oldest_open <= last:
                seq = max(self._oldest_open, self._first)
                self._oldest_open = seq + 1
                if not self._is_answered(seq):
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
    kind = "udp"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_ints(sport=0xFFFF, dport=0xFFFF, size=None)

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
