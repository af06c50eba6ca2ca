"""Verdicts and memory that do not depend on how many frames a run carries (issue: trust at any scale).

Expectations watch only the frames they name, fold each frame into counts when its last copy ends, and never
read the hop trace, so they stay exact when the trace is full or off; a send of N frames is generated one frame
at a time in exactly the order N eager sends would have; sessions keep running sums, not a list per probe.
"""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from conftest import udp_frame
from vswitch import Network, ScenarioError
from vswitch.cli import main
from vswitch.guests.sessions import PingSession, UdpSession
from vswitch.scenario.runner import ScenarioRunner
from vswitch.topology.build import build_network
from vswitch.topology.loader import load_topology_text

LAB = """
name: scale
switches: [{name: sw1}]
hosts:
  - {name: h1, mac: "02:00:00:00:00:01"}
  - {name: h2, mac: "02:00:00:00:00:02"}
  - {name: h3, mac: "02:00:00:00:00:03"}
links:
  - {a: h1, b: sw1.p1}
  - {a: h2, b: sw1.p2}
  - {a: h3, b: sw1.p3}
"""


def run(text: str, **build) -> tuple:
    spec = load_topology_text(text, "scale.yaml")
    net = build_network(spec, **build)
    return net, ScenarioRunner(spec, net).run()


def checks(result) -> list[tuple[str, bool, str]]:
    return [(c.description, c.passed, c.actual) for c in result.checks]


BULK_THEN_LATE = LAB + """
scenario:
  - {at: 0s, send: {from: h2, to: h1, name: hello}}
  - {at: 1us, send: {from: h1, to: h2, name: bulk, count: 3000}}
  - {at: 500ms, send: {from: h1, to: h3, name: late}}
expect:
  - not_delivered: {frame: late, to: h3}
  - delivered: {frame: late, to: h3, only: true}
  - delivered: {frame: bulk, to: h2, only: true}
"""


@pytest.mark.parametrize("build", [{"record": False}, {"record": True, "trace_limit": 1000}, {}],
                         ids=["not-recording", "trace-full", "recording"])
def test_verdicts_do_not_depend_on_the_trace(build):
    """The trace fills up long before 'late' is sent (a full trace once made not_delivered pass wrongly)."""
    net, result = run(BULK_THEN_LATE, **build)
    assert checks(result) == [
        ("late not delivered to h3.eth0", False, "received by h3.eth0"),
        ("late delivered to exactly h3.eth0", True, "received by h3.eth0"),
        ("bulk delivered to exactly h2.eth0", True, "received by h2.eth0"),
    ]
    if build.get("trace_limit") == 1000:
        assert net.trace.truncated


def test_watching_keeps_nothing_once_frames_have_ended():
    net, result = run(BULK_THEN_LATE, record=False)
    assert net.trace is not None and not net.trace.everything and net.trace.events == []
    assert net.trace.open == {}  # every watched frame ended and was folded into counts
    assert len(result.frames["bulk"]) == 3000 and result.frames["bulk"].runs() == [(2, 3001)]
    assert all(not nic.inbox for nics in net.hosts.values() for nic in nics)


def test_a_frame_still_in_flight_counts_as_not_delivered_yet():
    text = LAB.replace("{a: h1, b: sw1.p1}", "{a: h1, b: sw1.p1, latency: 1ms}") + """
scenario:
  - {at: 0s, send: {from: h1, to: h2, name: slow, count: 3}}
  - {at: 0s, expect: {delivered: {frame: slow, to: h2}}}
until: 10ms
expect:
  - delivered: {frame: slow, to: h2}
"""
    _, result = run(text, record=False)
    assert [c.passed for c in result.checks] == [False, True]  # flooded to h2 and h3 once there: 'to' is at least


def test_only_fails_when_one_frame_of_many_reaches_someone_else():
    text = LAB + """
scenario:
  - {at: 0s, interface: {name: h3, promiscuous: true}}
  - {at: 1us, send: {from: h1, to: h2, name: mixed, count: 2}}
  - {at: 1ms, send: {from: h2, to: h1, name: learn}}
  - {at: 2ms, send: {from: h1, to: h2, name: mixed, count: 2}}
expect:
  - delivered: {frame: mixed, to: h2, only: true}
  - delivered: {frame: mixed, to: h2}
  - not_delivered: {frame: mixed, to: h3}
"""
    _, result = run(text, record=False)
    assert checks(result) == [  # the first two were flooded to a promiscuous h3 (h2 unknown), the last two not
        ("mixed delivered to exactly h2.eth0", False, "received by h2.eth0, h3.eth0"),
        ("mixed delivered to h2.eth0", True, "received by h2.eth0, h3.eth0"),
        ("mixed not delivered to h3.eth0", False, "received by h2.eth0, h3.eth0"),
    ]


def test_only_means_exactly_the_listed_receivers_neither_more_nor_fewer():
    text = LAB + """
scenario:
  - {at: 0s, send: {from: h1, dst: broadcast, name: hello}}
  - {at: 1ms, interface: {name: h3, up: false}}
  - {at: 2ms, send: {from: h1, dst: broadcast, name: lonely}}
expect:
  - delivered: {frame: hello, to: [h2, h3], only: true}
  - delivered: {frame: hello, to: h2, only: true}
  - delivered: {frame: hello, to: h2}
  - delivered: {frame: hello, to: [h1, h2, h3], only: true}
  - delivered: {frame: lonely, to: [h2, h3], only: true}
"""
    _, result = run(text, record=False)
    assert checks(result) == [
        ("hello delivered to exactly h2.eth0, h3.eth0", True, "received by h2.eth0, h3.eth0"),
        ("hello delivered to exactly h2.eth0", False, "received by h2.eth0, h3.eth0"),  # one more than listed
        ("hello delivered to h2.eth0", True, "received by h2.eth0, h3.eth0"),  # without only: at least
        ("hello delivered to exactly h1.eth0, h2.eth0, h3.eth0", False, "received by h2.eth0, h3.eth0"),  # fewer
        ("lonely delivered to exactly h2.eth0, h3.eth0", False, "received by h2.eth0"),
    ]


def test_many_drops_are_counted_by_port_and_reason():
    text = LAB + """
scenario:
  - {at: 0s, link: {a: h2, b: sw1.p2, up: false}}
  - {at: 1us, send: {from: h2, to: h1, name: cut, count: 25}}
  - {at: 2us, send: {from: h2, to: h1, name: one}}
expect:
  - dropped: {frame: cut, reason: link_down}
  - dropped: {frame: one, reason: link_down, at: h2}
"""
    _, result = run(text, record=False)
    assert checks(result) == [
        ("cut dropped: link_down", True, "h2.eth0: link_down x25"),
        ("one dropped at h2.eth0: link_down", True, "h2.eth0: link_down"),
    ]


def pcapng_of(tmp_path, name: str, sends) -> tuple[bytes, list]:
    """Two senders start series at the same instants over zero-delay cables: the order is all that differs."""
    net = Network(capture_dir=tmp_path / name)
    net.add_switch("sw1")
    for k in (1, 2, 3):
        net.add_host(f"h{k}", f"02:00:00:00:00:0{k}")
        net.connect(f"h{k}", "sw1")
    net.capture_pcapng("all.pcapng")
    a, b = udp_frame("02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff"), udp_frame("02:00:00:00:00:02", "02:00:00:00:00:03")
    sends(net, a, b)
    net.run()
    net.close()
    return (tmp_path / name / "all.pcapng").read_bytes(), net.trace.events


@pytest.mark.parametrize("count, interval", [(5, 0), (5, 1000), (1, 0), (3, 7)])
def test_a_series_is_the_same_run_as_sending_each_frame(tmp_path, count, interval):
    def eager(net, a, b):
        now = net.now
        return [[net.send(name, frame, at=now + i * interval) for i in range(count)] for name, frame in
                (("h1", a), ("h2", b))]

    def lazy(net, a, b):
        return [list(net.send_series(name, frame, count, interval_ns=interval)) for name, frame in
                (("h1", a), ("h2", b))]

    assert pcapng_of(tmp_path, "eager", eager) == pcapng_of(tmp_path, "lazy", lazy)


def test_a_series_keeps_its_place_against_frames_scheduled_later_for_the_same_instant(tmp_path):
    """Copy 2 of a series started at 0 goes before a frame that was scheduled at 500 ns for its instant."""
    def later(net, b):
        net.engine.at(500, lambda: net.send("h2", b, at=2000))

    def eager(net, a, b):
        later(net, b)
        return [net.send("h1", a, at=i * 1000) for i in range(3)]

    def lazy(net, a, b):
        later(net, b)
        return net.send_series("h1", a, 3, interval_ns=1000)

    assert pcapng_of(tmp_path, "eager", eager) == pcapng_of(tmp_path, "lazy", lazy)


def test_a_series_refuses_a_bad_count_or_interval():
    net = Network()
    net.add_host("h1", "02:00:00:00:00:01")
    with pytest.raises(ScenarioError, match="send_series: count must be >= 0, got -1"):
        net.send_series("h1", udp_frame("02:00:00:00:00:01", "02:00:00:00:00:02"), -1)
    with pytest.raises(ScenarioError, match="send_series: interval_ns must be an int"):
        net.send_series("h1", udp_frame("02:00:00:00:00:01", "02:00:00:00:00:02"), 1, interval_ns=0.5)


def test_inbox_limit_keeps_the_last_deliveries():
    net = Network(inbox_limit=2)
    net.add_host("h1", "02:00:00:00:00:01")
    net.add_host("h2", "02:00:00:00:00:02")
    net.connect("h1", "h2")
    ids = net.send_series("h1", udp_frame("02:00:00:00:00:01", "02:00:00:00:00:02"), 5)
    net.run()
    assert [d.frame_id for d in net.deliveries("h2")] == list(ids)[-2:]


def test_ping_sequence_numbers_wrap_as_on_the_wire():
    """ICMP sequence numbers are 16 bits: the answer to probe 65,537 carries 1 and is that probe's answer."""
    session = PingSession("p", "a", "b", IPv4Address("192.0.2.2"), count=70_000, timeout_ns=10)
    for seq in range(1, 70_001):
        session.record_sent(seq, now=seq * 100)
        assert session.record_answer(seq & 0xFFFF, now=seq * 100 + 3)
    assert (session.transmitted, session.received, session.duplicates, session.late) == (70_000, 70_000, 0, 0)
    assert session.rtt_ns() == (3, 3, 3, 0) and len(session.rtts) == 1000  # the first, one by one
    assert len(session._send_times) < 200  # only probes that could still be answered in time keep a send time


def test_unanswered_probes_do_not_accumulate():
    session = UdpSession("u", "a", "b", IPv4Address("192.0.2.2"), count=100_000, timeout_ns=1_000)
    for seq in range(100_000):
        session.record_sent(seq, now=seq * 10)
    assert len(session._send_times) < 500 and session.received == 0 and session.loss == 100
    assert session.record_answer(0, now=10**6) is False and session.late == 1  # its send time was forgotten


def test_explain_of_a_frame_in_a_long_series_shows_its_hops(capsys, tmp_path):
    path = tmp_path / "scale.yaml"
    path.write_text(BULK_THEN_LATE)
    assert main(["explain", str(path), "late"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("frame 3002 (late#1)\n") and "h3.eth0: delivered" in out
    assert main(["explain", str(path), "bulk"]) == 0
    out = capsys.readouterr().out
    assert out.count("=> delivered to h2.eth0") == 100 and out.endswith("... and 2,900 more frames named bulk "
                                                                          "(the first 100 are shown; bulk#N "
                                                                          "explains the N-th)\n")
    assert main(["explain", str(path), "bulk#3000"]) == 0  # the last, without keeping the 2,999 before it
    assert capsys.readouterr().out.startswith("frame 3001 (bulk#3000)\n")


def test_probes_must_be_sent_in_order():
    session = PingSession("p", "a", "b", IPv4Address("192.0.2.2"), count=3)
    session.record_sent(1, now=0)
    with pytest.raises(ScenarioError, match="session p: probe 3 sent out of order, the next is 2"):
        session.record_sent(3, now=1)
