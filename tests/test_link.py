"""Links: latency, serialisation at a bandwidth, a per-direction tail-drop queue, up/down, wiring errors."""

import pytest

from vswitch.core.errors import TopologyError
from vswitch.l2.port import DEFAULT_QUEUE_FRAMES, WIRE_OVERHEAD_BYTES, Link
from vswitch.l2.port import Port
from vswitch.core.reasons import DropReason

GBPS = 1_000_000_000
FRAME_60 = bytes(60)      # on the wire: (60 + 24) * 8 = 672 bits = 672 ns at 1 Gbps


class StubNode:
    def __init__(self, name: str) -> None:
        self.name = name


def ports(count: int = 2) -> list[Port]:
    return [Port(StubNode(f"n{i}"), "p1") for i in range(1, count + 1)]


def cable(**kwargs) -> Link:
    a, b = ports()
    return Link(a, b, **kwargs)


# -- wiring -------------------------------------------------------------------------------------------

def test_link_wires_each_port_to_its_direction():
    a, b = ports()
    link = Link(a, b, latency_ns=5)
    assert (a.peer, b.peer) == (link.a_to_b, link.b_to_a)
    assert (link.a_to_b.port, link.a_to_b.far, link.b_to_a.port, link.b_to_a.far) == (a, b, b, a)
    assert link.ports == (a, b)


def test_link_defaults():
    link = cable()
    assert (link.name, link.latency_ns, link.bandwidth_bps, link.queue_frames, link.up) == (
        "n1.p1--n2.p1", 0, None, DEFAULT_QUEUE_FRAMES, True)
    assert DEFAULT_QUEUE_FRAMES == 1000
    assert WIRE_OVERHEAD_BYTES == 24
    assert repr(link) == "<Link n1.p1--n2.p1 up>"


def test_link_may_be_named():
    assert cable(name="uplink").name == "uplink"


def test_connecting_an_already_connected_port_raises_and_leaves_the_other_port_free():
    a, b, c = ports(3)
    Link(a, b)
    with pytest.raises(TopologyError) as caught:
        Link(c, a)
    assert str(caught.value) == "port n1.p1 is already connected"
    assert c.peer is None


def test_connecting_a_port_to_itself_raises():
    (a,) = ports(1)
    with pytest.raises(TopologyError) as caught:
        Link(a, a)
    assert str(caught.value) == "cannot connect port n1.p1 to itself"
    assert a.peer is None


@pytest.mark.parametrize("kwargs, message", [
    ({"latency_ns": -1}, "link n1.p1--n2.p1: latency must be >= 0"),
    ({"bandwidth_bps": 0}, "link n1.p1--n2.p1: bandwidth must be > 0"),
    ({"bandwidth_bps": -GBPS}, "link n1.p1--n2.p1: bandwidth must be > 0"),
    ({"queue_frames": -1}, "link n1.p1--n2.p1: queue must be >= 0 frames"),
])
def test_bad_parameters_raise_and_connect_nothing(kwargs, message):
    a, b = ports()
    with pytest.raises(TopologyError) as caught:
        Link(a, b, **kwargs)
    assert str(caught.value) == message
    assert (a.peer, b.peer) == (None, None)


def test_disconnect_frees_both_ports_for_a_new_link():
    a, b = ports()
    Link(a, b).disconnect()
    assert (a.peer, b.peer) == (None, None)
    Link(b, a)
    assert (a.peer.far, b.peer.far) == (b, a)


# -- timing -------------------------------------------------------------------------------------------

def test_latency_only_link_delivers_after_the_latency_without_queueing():
    link = cable(latency_ns=1_000)
    end = link.a_to_b
    assert [end.offer(FRAME_60, now=500) for _ in range(3)] == [1_500, 1_500, 1_500]
    assert end.queued(now=500) == 0


def test_zero_latency_link_delivers_at_once():
    assert cable().a_to_b.offer(FRAME_60, now=77) == 77


def test_serialisation_counts_preamble_fcs_and_gap():
    link = cable(latency_ns=1_000, bandwidth_bps=GBPS)
    assert link.a_to_b.offer(FRAME_60, now=0) == 672 + 1_000


@pytest.mark.parametrize("size, bps, serialisation_ns", [
    (60, GBPS, 672),                     # (60 + 24) * 8 = 672 bits
    (1514, GBPS, 12_304),                # (1514 + 24) * 8
    (61, 3 * GBPS, 227),                 # 680 bits / 3 Gbps = 226.67 ns, rounded up
    (60, 10_000_000, 67_200),            # 10 Mbps
    (1, 7, 28_571_428_572),              # 200 bits at 7 bps = 28.571428571428...s, rounded up
])
def test_serialisation_delay_is_rounded_up_to_whole_nanoseconds(size, bps, serialisation_ns):
    link = cable(latency_ns=0, bandwidth_bps=bps)
    assert link.a_to_b.offer(bytes(size), now=10) == 10 + serialisation_ns


def test_back_to_back_frames_queue_behind_each_other():
    link = cable(latency_ns=1_000, bandwidth_bps=GBPS)
    end = link.a_to_b
    assert [end.offer(FRAME_60, now=0) for _ in range(3)] == [1_672, 2_344, 3_016]
    assert [end.queued(now=t) for t in (0, 671, 672, 1_343, 1_344)] == [2, 2, 1, 1, 0]


def test_frame_offered_while_the_wire_is_busy_starts_when_it_frees():
    end = cable(latency_ns=1_000, bandwidth_bps=GBPS).a_to_b
    end.offer(FRAME_60, now=0)
    assert end.offer(FRAME_60, now=300) == 672 + 672 + 1_000


def test_frame_offered_after_the_wire_is_idle_starts_at_once():
    end = cable(latency_ns=1_000, bandwidth_bps=GBPS).a_to_b
    end.offer(FRAME_60, now=0)
    assert end.offer(FRAME_60, now=10_000) == 10_000 + 672 + 1_000


def test_directions_have_independent_queues():
    link = cable(latency_ns=0, bandwidth_bps=GBPS, queue_frames=0)
    assert link.a_to_b.offer(FRAME_60, now=0) == 672
    assert link.b_to_a.offer(FRAME_60, now=0) == 672


# -- queue and tail drop ------------------------------------------------------------------------------

def test_full_queue_tail_drops_and_keeps_queued_frames():
    end = cable(latency_ns=1_000, bandwidth_bps=GBPS, queue_frames=2).a_to_b
    results = [end.offer(FRAME_60, now=0) for _ in range(4)]
    assert results == [1_672, 2_344, 3_016, DropReason.QUEUE_FULL]
    assert end.queued(now=0) == 2


def test_dropped_frame_does_not_occupy_the_wire():
    end = cable(latency_ns=1_000, bandwidth_bps=GBPS, queue_frames=2).a_to_b
    for _ in range(4):
        end.offer(FRAME_60, now=0)
    # at 672 the first frame is done and the second is on the wire: one slot is free again
    assert end.offer(FRAME_60, now=672) == 4 * 672 + 1_000
    assert end.offer(FRAME_60, now=672) is DropReason.QUEUE_FULL


def test_queue_of_zero_frames_drops_whatever_arrives_while_transmitting():
    end = cable(latency_ns=1_000, bandwidth_bps=GBPS, queue_frames=0).a_to_b
    assert end.offer(FRAME_60, now=0) == 1_672
    assert end.offer(FRAME_60, now=0) is DropReason.QUEUE_FULL
    assert end.offer(FRAME_60, now=671) is DropReason.QUEUE_FULL
    assert end.offer(FRAME_60, now=672) == 672 + 672 + 1_000


# -- up/down ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bandwidth", [None, GBPS])
def test_down_link_drops_in_both_directions(bandwidth):
    link = cable(latency_ns=1_000, bandwidth_bps=bandwidth)
    link.up = False
    assert (link.a_to_b.offer(FRAME_60, now=0), link.b_to_a.offer(FRAME_60, now=0)) == (
        DropReason.LINK_DOWN, DropReason.LINK_DOWN)
    assert repr(link) == "<Link n1.p1--n2.p1 down>"


def test_link_carries_frames_again_once_up():
    link = cable(latency_ns=1_000, bandwidth_bps=GBPS)
    link.up = False
    link.a_to_b.offer(FRAME_60, now=0)
    link.up = True
    assert link.a_to_b.offer(FRAME_60, now=0) == 1_672  # the dropped frame never used the wire


@pytest.mark.parametrize("kwargs", [{"latency_ns": 1.5}, {"bandwidth_bps": 1e9}])
def test_non_integer_latency_or_bandwidth_is_rejected(kwargs):
    a, b = ports()
    try:
        Link(a, b, **kwargs)
    except TopologyError:
        return
    raise AssertionError(f"Link accepted {kwargs}")
