"""The trace: per-frame hops, deliveries, drops, explain text and the event limit."""

import pytest

from vswitch.core.reasons import DropReason, Verdict
from vswitch.core.trace import DEFAULT_TRACE_LIMIT, FrameObserver, HopRecorder, Trace, TraceEvent, TraceIncomplete

# Frame 1: h1 broadcasts; the switch floods to p2 and p3; vm1 takes it, p3's cable is down.
SENT = TraceEvent(0, 1, "h1.eth0", Verdict.TRANSMITTED, ("sw1.p1",))
FLOOD = TraceEvent(1_000, 1, "sw1.p1", Verdict.FLOODED_BROADCAST, ("sw1.p2", "sw1.p3"),
                   "learned 02:00:00:00:00:01 on p1")
P3_DOWN = TraceEvent(1_000, 1, "sw1.p3", DropReason.LINK_DOWN)
TO_VM1 = TraceEvent(2_000, 1, "hv1.uplink", Verdict.REPLICATED, ("vm1.eth0", "vm2.eth0"))
AT_VM1 = TraceEvent(2_000, 1, "vm1.eth0", Verdict.DELIVERED)
VM2_DOWN = TraceEvent(2_000, 1, "vm2.eth0", DropReason.VNIC_DOWN)
# Frame 2: vm1 answers h1 unicast.
REPLY_SENT = TraceEvent(1_500, 2, "vm1.eth0", Verdict.TRANSMITTED, ("hv1.uplink",))
REPLY_AT_H1 = TraceEvent(3_500, 2, "h1.eth0", Verdict.DELIVERED)

ALL = [SENT, FLOOD, P3_DOWN, REPLY_SENT, TO_VM1, AT_VM1, VM2_DOWN, REPLY_AT_H1]


def recorded(events=ALL, limit=DEFAULT_TRACE_LIMIT) -> Trace:
    trace = Trace(limit=limit)
    for event in events:
        trace.add(event)
    return trace


def test_for_frame_lists_the_hops_of_one_frame_in_order():
    trace = recorded()
    assert trace.for_frame(1) == [SENT, FLOOD, P3_DOWN, TO_VM1, AT_VM1, VM2_DOWN]
    assert trace.for_frame(2) == [REPLY_SENT, REPLY_AT_H1]


def test_for_frame_of_an_unknown_id_is_empty():
    assert recorded().for_frame(99) == []


def test_for_frame_returns_a_copy():
    trace = recorded()
    trace.for_frame(1).clear()
    assert len(trace.for_frame(1)) == 6


def test_events_keep_the_global_order_of_addition():
    assert recorded().events == ALL


def test_frame_ids_are_sorted():
    assert recorded([REPLY_SENT, SENT]).frame_ids() == [1, 2]


def test_delivered_to_lists_only_ports_whose_stack_took_a_copy():
    trace = recorded()
    assert trace.delivered_to(1) == ["vm1.eth0"]
    assert trace.delivered_to(2) == ["h1.eth0"]
    assert trace.delivered_to(99) == []


def test_delivered_to_has_one_entry_per_copy_in_time_order():
    trace = recorded([TraceEvent(10, 5, "vm2.eth0", Verdict.DELIVERED),
                      TraceEvent(20, 5, "vm1.eth0", Verdict.DELIVERED),
                      TraceEvent(30, 5, "vm2.eth0", Verdict.DELIVERED)])
    assert trace.delivered_to(5) == ["vm2.eth0", "vm1.eth0", "vm2.eth0"]


def test_drops_lists_port_and_reason_of_every_dropped_copy():
    trace = recorded()
    assert trace.drops(1) == [("sw1.p3", DropReason.LINK_DOWN), ("vm2.eth0", DropReason.VNIC_DOWN)]
    assert trace.drops(2) == []
    assert trace.drops(99) == []


def test_event_is_drop_only_for_drop_reasons():
    assert [e.is_drop for e in ALL] == [False, False, True, False, False, False, True, False]


def test_event_text_shows_outcome_outputs_and_note():
    assert FLOOD.text() == (
        "sw1.p1: flooded: broadcast -> sw1.p2, sw1.p3 (learned 02:00:00:00:00:01 on p1)")
    assert P3_DOWN.text() == "sw1.p3: dropped: link is down"
    assert AT_VM1.text() == "vm1.eth0: delivered"


def test_explain_gives_one_line_per_hop_with_its_virtual_time():
    assert recorded().explain(1) == "\n".join([
        "0.000000000s  h1.eth0: transmitted -> sw1.p1",
        "0.000001000s  sw1.p1: flooded: broadcast -> sw1.p2, sw1.p3 (learned 02:00:00:00:00:01 on p1)",
        "0.000001000s  sw1.p3: dropped: link is down",
        "0.000002000s  hv1.uplink: replicated to the vNICs whose filter accepts it -> vm1.eth0, vm2.eth0",
        "0.000002000s  vm1.eth0: delivered",
        "0.000002000s  vm2.eth0: dropped: destination vNIC is down",
    ])


def test_explain_shows_nanosecond_resolution():
    trace = recorded([TraceEvent(300_000_000_123, 3, "sw1.p1", Verdict.FORWARDED, ("sw1.p2",))])
    assert trace.explain(3) == "300.000000123s  sw1.p1: forwarded -> sw1.p2"


def test_explain_is_exact_for_long_runs():
    trace = recorded([TraceEvent(10**16 + 1, 4, "sw1.p1", Verdict.DELIVERED)])
    assert trace.explain(4) == "10000000.000000001s  sw1.p1: delivered"


def test_explain_of_an_unknown_frame_says_so():
    assert recorded().explain(99) == "frame 99: no trace (unknown id, or tracing was off or full)"


def test_limit_keeps_the_first_events_and_refuses_to_answer_for_frames_it_cut():
    trace = recorded(limit=3)
    assert trace.events == [SENT, FLOOD, P3_DOWN]
    assert trace.truncated is True
    for ask in (trace.for_frame, trace.delivered_to, trace.drops):  # frame 1 was still in flight: no wrong answer
        with pytest.raises(TraceIncomplete, match="filled up at 3 events before frame 1 ended"):
            ask(1)
    with pytest.raises(TraceIncomplete):
        trace.for_frame(2)
    assert trace.explain(2).startswith("frame 2: the trace filled up at 3 events")
    assert trace.frame_ids() == [1]


def test_frames_that_ended_before_the_trace_filled_up_are_still_answered():
    trace = recorded([REPLY_SENT, REPLY_AT_H1, SENT, FLOOD], limit=3)
    assert trace.truncated and trace.delivered_to(2) == ["h1.eth0"]
    with pytest.raises(TraceIncomplete):
        trace.delivered_to(1)


class Seen(FrameObserver):
    def __init__(self):
        self.hops, self.ended = [], []

    def hop(self, event):
        self.hops.append(event)

    def done(self, frame_id):
        self.ended.append(frame_id)


def test_a_watched_frame_ends_when_its_last_copy_is_delivered_or_dropped():
    seen = Seen()
    trace = Trace(limit=2)  # watching does not depend on the recording limit
    trace.watch(1, (seen,))
    for event in ALL:
        trace.add(event)
        assert seen.ended == ([1] if event is VM2_DOWN or seen.ended else [])
    assert seen.hops == [SENT, FLOOD, P3_DOWN, TO_VM1, AT_VM1, VM2_DOWN]
    assert trace.open == {}  # nothing kept once the frames ended


def test_a_watch_only_trace_keeps_nothing_but_the_watched_frames_in_flight():
    seen = Seen()
    trace = Trace(everything=False)
    trace.watch(2, (seen,))
    trace.add(REPLY_SENT)
    assert trace.open == {2: 1} and trace.events == []
    trace.add(REPLY_AT_H1)
    assert (seen.hops, seen.ended, trace.open) == ([REPLY_SENT, REPLY_AT_H1], [2], {})
    with pytest.raises(TraceIncomplete, match="record=False"):
        trace.for_frame(2)


def test_hop_recorder_keeps_the_first_frames_and_counts_the_rest():
    recorder = HopRecorder(max_frames=1)
    trace = Trace(everything=False)
    trace.watch(1, (recorder,))
    trace.watch(2, (recorder,))
    for event in ALL:
        trace.add(event)
    assert (list(recorder.hops), recorder.hops[1][-1], recorder.more) == ([1], VM2_DOWN, 1)


def test_reaching_the_limit_exactly_is_not_truncation():
    trace = recorded(ALL[:3], limit=3)
    assert (len(trace.events), trace.truncated) == (3, False)


def test_limit_zero_records_nothing():
    trace = recorded(limit=0)
    assert (trace.events, trace.truncated, trace.frame_ids()) == ([], True, [])


def test_new_trace_is_empty_and_not_truncated():
    trace = Trace()
    assert (trace.limit, trace.events, trace.truncated, trace.frame_ids()) == (1_000_000, [], False, [])
