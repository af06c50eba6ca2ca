"""Ping-style statistics on the virtual clock: exact integers, ping's formats, loss matching."""

from __future__ import annotations

from fractions import Fraction
from ipaddress import IPv4Address

import pytest

from vswitch.guests.sessions import PingSession, format_loss, format_ms, loss_matches


def session_with(rtts: dict[int, int], sent: int) -> PingSession:
    session = PingSession("p", "vm1.eth0", "h1", IPv4Address("192.0.2.1"), count=sent)
    for seq in range(1, sent + 1):
        session.record_sent(seq, now=seq * 10**9)
    for seq, rtt in rtts.items():
        assert session.record_answer(seq, now=seq * 10**9 + rtt)
    return session


def test_statistics_are_pings_summary():
    session = session_with({1: 22_000, 2: 30_000, 3: 23_000}, sent=4)
    assert session.rtt_ns() == (22_000, 25_000, 30_000, 3_559)
    assert session.summary_text() == ("4 packets transmitted, 3 received, 25% packet loss\n"
                                      "rtt min/avg/max/mdev = 0.022/0.025/0.030/0.004 ms")
    assert session.summary()["rtt min/avg/max/mdev"] == "0.022/0.025/0.030/0.004 ms"
    assert session.succeeded and session.loss == 25


def test_no_answer_no_rtt_and_nothing_sent_is_no_loss():
    assert session_with({}, sent=2).rtt_ns() is None
    assert session_with({}, sent=0).loss == 0


@pytest.mark.parametrize("ns, text", [(0, "0.000"), (499, "0.000"), (500, "0.001"), (1_234_567, "1.235"),
                                      (10**9, "1000.000")])
def test_milliseconds_round_half_up(ns, text):
    assert format_ms(ns) == text


def test_loss_is_printed_like_ping():
    assert [format_loss(Fraction(100 * k, 3)) for k in range(4)] == ["0%", "33.3333%", "66.6667%", "100%"]


@pytest.mark.parametrize("actual, written, ok", [
    (Fraction(100, 3), "33.33", True), (Fraction(100, 3), "33.3", True), (Fraction(100, 3), "33", True),
    (Fraction(100, 3), "33.4", False), (Fraction(20, 3), "6.67", True), (Fraction(20, 3), "6.66", False),
    (Fraction(0), "0", True), (Fraction(1, 3), "0", False), (Fraction(100), "100", True),
    (Fraction(299, 3), "100", False), (Fraction(25), "25", True), (Fraction(25), "25.0", True),
])
def test_loss_matches_at_the_precision_written(actual, written, ok):
    assert loss_matches(actual, written) is ok
