"""The datapath: the one place where node decisions are applied and frames move between ports.

Nodes (switches, adapters, NICs) only *decide* (``handle_frame`` returns a ``Decision``); the datapath checks sizes,
counts, taps captures, records the trace, and hands copies to links (which schedule their arrival on the engine) or
to internal wires (at once). Every copy ends delivered or dropped with a reason, and ``stats`` reconciles:
``injected + copies == delivered + dropped + in_flight``.

This is the per-frame code, so it is written for speed (docs/performance.md): enum members are bound to module
constants (an enum attribute lookup costs ten times a global), empty tap lists are skipped, one-copy decisions skip
the copy bookkeeping, and a zero-delay arrival with nothing else due runs at once instead of through the engine.
``Network`` builds on it and adds names, building and captures.

Security features cost the common path one test each: a decision's ``frames`` (VLAN tags changed per output), a
vNIC's ``tx_check`` (SR-IOV controls, ``sriov.py``) and an armed switch port's ``counters.seen`` (loops and storms,
``storm.py``). A frame that comes back to a switch queues a no-op event, so the following zero-delay hops go
through the engine rather than nest: a loop of zero-latency cables cannot exhaust the stack (it used to end in
RecursionError), and the order of events is the same.
"""

from __future__ import annotations

from typing import Any, Callable, Final, Iterable, Iterator, cast

from ..core import checks
from ..core.engine import Engine
from ..core.frame import ETH_HEADER_LEN, MIN_FRAME_LEN, pad, payload_len
from ..core.reasons import DropReason, Verdict
from ..core.trace import FrameObserver, Trace, TraceEvent
from ..l2.decision import Node
from ..l2.nic import NIC, TAKEN, Delivery, silent_receiver
from ..l2.port import STATE_VERSION, LinkEnd, Port, Tap
from ..l2.storm import SEEN_SLOTS
from .stats import NetworkStats
from .stream import Stream, stream_item

_TRANSMITTED: Final = Verdict.TRANSMITTED
_DELIVERED: Final = Verdict.DELIVERED
_TO_STP: Final = Verdict.TO_STP
_TAKEN: Final = TAKEN
_BROADCAST: Final = b"\xff" * 6
_SEEN_MASK: Final = SEEN_SLOTS - 1
_next: Final = next  # compiled, the builtin would be looked up by name at every call


def _nothing() -> None:
    """A no-op event: while it waits, zero-delay arrivals are queued rather than run at once."""

class Datapath:
    """Moves frames between ports on the engine's clock.

    ``record=True`` keeps every hop in ``trace`` (up to ``trace_limit`` events) and every delivered frame in its
    NIC's ``inbox`` (the last ``inbox_limit`` of them, if given); ``record=False`` keeps neither, so memory does
    not grow with the frames. Either way ``watch_frame`` follows chosen frames to their end (expectations do).
    """

    def __init__(self, *, record: bool, trace_limit: int, inbox_limit: int | None = None) -> None:
        self.engine = Engine()
        self.record = record
        self.trace_limit = trace_limit
        self.inbox_limit = inbox_limit
        self.trace: Trace | None = Trace(trace_limit) if record else None
        self.stats = NetworkStats()
        self._next_frame_id = 1
        self._arrival = self._arrive  # bound once: it is scheduled for every hop
        self._stream_sender = self._stream_send  # and this for every frame of a stream
        self._due = self.engine.due  # events due at the current instant

    @property
    def now(self) -> int:
        """The virtual time, in nanoseconds since the start of the run."""
        return self.engine.now

    def run(self, until: object = None) -> int:
        """Run the engine up to virtual time ``until`` (everything pending, if None)."""
        return self.engine.run(checks.optional_nanoseconds(until, "run: until"))

    def watch_frame(self, frame_id: int, observers: tuple[FrameObserver, ...]) -> None:
        """Show ``observers`` every hop of frame ``frame_id`` until its last copy ends (``core/trace.py``).

        Without ``record`` only watched frames reach the trace, so the cost is theirs alone."""
        if self.trace is None:
            self.trace = Trace(self.trace_limit, everything=False)
        self.trace.watch(frame_id, observers)

    # -- starting frames ------------------------------------------------------------------------------
    def _schedule(self, action: Callable[[Port, int, bytes], None], port: Port, frame: bytes,
                  at: int | None) -> int:
        frame_id = self._next_frame_id
        self._next_frame_id += 1
        self.stats.injected += 1
        self.engine.at(self.engine.now if at is None else at, action, port, frame_id, frame)
        return frame_id

    def _send_series(self, port: Port, frame: bytes, count: int, interval_ns: int,
                     observers: tuple[FrameObserver, ...] = ()) -> int:
        """``frame`` sent ``count`` times from ``port``, ``interval_ns`` apart from now; returns the first frame id
        (the ids are consecutive). ``observers`` watch each copy from when it is sent.

        Generated one at a time, so memory does not grow with ``count``, in exactly the order ``count`` calls of
        ``_schedule`` would give: the ids and the engine's sequence numbers are reserved now, and each copy is
        queued where the eager one would have been (the same instant's copies stay ahead of what they cause).
        """
        first = self._next_frame_id
        self._next_frame_id = first + count
        self.stats.injected += count
        if count <= 0:
            return first
        engine = self.engine
        if interval_ns == 0:
            engine.due.append((self._series_now, (port, frame, first, first + count, observers)))
        else:  # copy 0 is due now; copies 1.. wait in the heap under the sequence numbers eager ones would take
            engine.due.append((self._series_later, (port, frame, first, count - 1, interval_ns,
                                                    engine.reserve(count - 1), observers)))
        return first

    def _series_now(self, port: Port, frame: bytes, frame_id: int, end: int,
                    observers: tuple[FrameObserver, ...]) -> None:
        """One copy of a same-instant series; the rest stay first in line, as if each had been queued already."""
        if frame_id + 1 < end:
            self._due.appendleft((self._series_now, (port, frame, frame_id + 1, end, observers)))
        if observers:
            self.watch_frame(frame_id, observers)
        self._transmit_from_nic(port, frame_id, frame)

    def _series_later(self, port: Port, frame: bytes, frame_id: int, remaining: int, interval_ns: int,
                      sequence: int, observers: tuple[FrameObserver, ...]) -> None:
        """One copy of a spaced series; the next is queued first, at its time under its reserved sequence number."""
        if remaining:
            self.engine.at_reserved(self.engine.now + interval_ns, sequence, self._series_later, port, frame,
                                    frame_id + 1, remaining - 1, interval_ns, sequence + 1, observers)
        if observers:
            self.watch_frame(frame_id, observers)
        self._transmit_from_nic(port, frame_id, frame)

    def send_from_stack(self, port: Port, frames: Iterable[tuple[int, bytes]]) -> range:
        """Transmit what a NIC's guest stack returned, each ``(delay_ns, frame)`` from now, by the NIC's send path;
        return their frame ids (consecutive, in the order given)."""
        now = self.engine.now
        first = self._next_frame_id
        for delay, frame in frames:
            self._schedule(self._transmit_from_nic, port, frame, now + delay)
        return range(first, self._next_frame_id)

    def originate(self, port: Port, frame: bytes) -> int:
        """A node's own frame (a bridge's BPDU) leaves ``port`` now; returns its frame id."""
        frame_id = self._next_frame_id
        self._next_frame_id += 1
        self.stats.injected += 1
        trace = self.trace
        if trace is not None and (trace.everything or frame_id in trace.open):  # (the ladder watches ids ahead)
            peer = port.peer
            far = peer.far if isinstance(peer, LinkEnd) else peer
            trace.add(TraceEvent(self.engine.now, frame_id, port.full_name, _TRANSMITTED,
                                 (far.label,) if far is not None else ()))
        self._transmit(port, frame_id, frame, _TRANSMITTED)
        return frame_id

    def _start_stream(self, items: Iterator[Any], resolve: Callable[[str], Port],
                      on_frame: Callable[[int], None] | None = None) -> None:
        self._stream_pull(Stream(items, resolve, on_frame))

    def _stream_send(self, stream: Stream) -> None:
        port, frame_id, frame = cast(Port, stream.port), stream.frame_id, stream.frame  # the waiting item is due
        self._stream_pull(stream)  # first, so that same-time items go out in the order sending each would give
        self._transmit_from_nic(port, frame_id, frame)

    def _stream_pull(self, stream: Stream) -> None:
        """Take the stream's next item, give it a frame id and schedule its transmission."""
        try:
            raw = _next(stream.items)
        except StopIteration:
            return
        # Exactly (int, str, bytes) costs a few type tests (+0.5% a frame compiled); all else is checked in full.
        if type(raw) is not tuple or len(raw) != 3:  # (an if, not a conditional expression: mypyc would copy raw)
            raw = stream_item(raw)
        row: tuple = raw
        if type(row[0]) is not int or type(row[1]) is not str or type(row[2]) is not bytes:
            row = stream_item(row)  # raises, or makes a bytearray frame bytes
        time_ns: int = row[0]
        name: str = row[1]
        frame: bytes = row[2]
        port = stream.ports.get(name)
        if port is None:
            port = stream.ports[name] = stream.resolve(name)
        frame_id = self._next_frame_id
        self._next_frame_id = frame_id + 1
        self.stats.injected += 1
        if stream.on_frame is not None:
            stream.on_frame(frame_id)
        stream.port, stream.frame_id, stream.frame = port, frame_id, frame
        self.engine.at(time_ns, self._stream_sender, stream)

    # -- the fast path ------------------------------------------------------------------------------------
    def _transmit_from_nic(self, port: Port, frame_id: int, frame: bytes) -> None:
        """A NIC sends: size checks, then padding to 60 bytes as real NICs do."""
        size = len(frame)
        if not port.up:
            return self._drop(port, frame_id, DropReason.INTERFACE_DOWN, transmit=True)
        if size < ETH_HEADER_LEN:
            return self._drop(port, frame_id, DropReason.RUNT, transmit=True)
        if size - ETH_HEADER_LEN > port.mtu and payload_len(frame) > port.mtu:
            return self._drop(port, frame_id, DropReason.OVERSIZE, transmit=True)
        if port.io is not None:  # a VM's I/O model: the vCPU's work may make the frame leave later
            leave = port.io.transmit(size, self.engine.now, frame_id)
            if leave > self.engine.now:
                self.engine.at(leave, self._depart, port, frame_id, frame)
                return
        self._depart(port, frame_id, frame)

    def _depart(self, port: Port, frame_id: int, frame: bytes) -> None:
        """A NIC's checked frame leaves: padded to 60 bytes as real NICs do, through the SR-IOV checks if any."""
        size = len(frame)
        trace = self.trace
        if trace is not None and (trace.everything or frame_id in trace.open):
            peer = port.peer
            far = peer.far if isinstance(peer, LinkEnd) else peer
            trace.add(TraceEvent(self.engine.now, frame_id, port.full_name, _TRANSMITTED,
                                 (far.node.name if far.internal else far.full_name,) if far else ()))
        if port.tx_check is not None:
            return self._transmit_checked(port, frame_id, pad(frame) if size < MIN_FRAME_LEN else frame)
        self._transmit(port, frame_id, pad(frame) if size < MIN_FRAME_LEN else frame, _TRANSMITTED, True)

    def _transmit_checked(self, port: Port, frame_id: int, frame: bytes) -> None:
        """A vNIC with SR-IOV controls sends: its adapter's checks may drop the frame (captured at the vNIC with the
        reason: the guest sent it, the VF dropped it)."""
        now = self.engine.now
        reason = port.tx_check.check_transmit(port.node, frame, now)
        if reason is None:
            return self._transmit(port, frame_id, frame, _TRANSMITTED, True)
        counters = port.tally
        counters.tx_packets += 1
        counters.tx_bytes += len(frame)
        for tap in port.tx_taps:
            tap.record(frame, now, frame_id, reason, ())
        self._drop(port, frame_id, reason, transmit=True)

    def _transmit(self, port: Port, frame_id: int, frame: bytes, outcome: Verdict | DropReason,
                  last: bool = False) -> None:
        """``frame`` leaves through ``port`` towards its peer.

        ``last``: the caller does nothing more for this event. Then a zero-delay arrival with nothing else due now
        is run at once rather than queued: the engine would run it next anyway, so the order is the same.
        """
        counters = port.tally
        counters.tx_packets += 1
        counters.tx_bytes += len(frame)
        engine = self.engine
        now = engine.now
        peer = port.peer
        if port.tx_taps:
            if isinstance(peer, LinkEnd) and peer.impair is not None:  # the capture's comment says the link's doing
                return self._impaired(port, peer, frame_id, frame, outcome, port.tx_taps)
            for tap in port.tx_taps:
                tap.record(frame, now, frame_id, outcome, ())
        if isinstance(peer, LinkEnd):
            link = peer.link
            if link.plain:  # up, no bandwidth, no impairments: offer()'s answer, without the call
                arrival = now + link.latency_ns
            else:
                if peer.impair is not None:
                    return self._impaired(port, peer, frame_id, frame, outcome, ())
                offered = peer.offer(frame, now)
                if isinstance(offered, DropReason):
                    return self._drop(port, frame_id, offered, transmit=True)
                arrival = offered
            if arrival == now:
                if last and not self._due:
                    return self._arrive(peer.far, frame_id, frame)
                self._due.append((self._arrival, (peer.far, frame_id, frame)))
            else:
                engine.at(arrival, self._arrival, peer.far, frame_id, frame)
        elif peer is None:
            self._drop(port, frame_id, DropReason.NOT_CABLED, transmit=True)
        else:
            self._arrive(peer, frame_id, frame, last)

    def _impaired(self, port: Port, end: LinkEnd, frame_id: int, frame: bytes, outcome: Verdict | DropReason,
                  taps: tuple[Tap, ...]) -> None:
        """``frame`` leaves ``port`` on a link direction with impairments (``l2/impair.py``): lost, or sent once or
        twice, each copy perhaps with a bit flipped and delayed by jitter. ``taps`` (the port's tx taps, or none)
        record the frame as it left, with what the link did to it when it did something."""
        impair = end.impair
        assert impair is not None
        now = self.engine.now
        if not end.link.up:  # nothing crosses a cable that is down: no draws either
            for tap in taps:
                tap.record(frame, now, frame_id, outcome, ())
            return self._drop(port, frame_id, DropReason.LINK_DOWN, transmit=True)
        twice = impair.duplicates()
        lost = impair.lose()
        if lost is not None:
            if not twice:
                impair.lost[lost] += 1
                for tap in taps:
                    tap.record(frame, now, frame_id, lost, ())
                return self._drop(port, frame_id, lost, transmit=True)
            twice = False  # netem: a duplicated frame that loses one copy goes on as one
        first, bit = impair.corrupt(frame)
        note: Verdict | DropReason = outcome
        if twice:
            impair.duplicated += 1
            self.stats.copies += 1
            note = Verdict.DUPLICATED
        elif bit >= 0:
            note = Verdict.CORRUPTED
        for tap in taps:
            tap.record(frame, now, frame_id, note, ())
        self._onto_wire(port, end, frame_id, first, bit, twice)
        if twice:
            lost = impair.lose()
            if lost is not None:
                impair.lost[lost] += 1
                return self._drop(port, frame_id, lost, transmit=True)
            second, bit = impair.corrupt(frame)
            self._onto_wire(port, end, frame_id, second, bit, False)

    def _onto_wire(self, port: Port, end: LinkEnd, frame_id: int, frame: bytes, bit: int, duplicated: bool) -> None:
        """One copy of an impaired frame enters the wire: queue (bandwidth), latency, jitter, order."""
        impair = end.impair
        assert impair is not None
        now = self.engine.now
        trace = self.trace
        if trace is not None and (trace.everything or frame_id in trace.open):
            far = end.far.label
            if duplicated:
                trace.add(TraceEvent(now, frame_id, port.full_name, Verdict.DUPLICATED, (far, far)))
            if bit >= 0:
                trace.add(TraceEvent(now, frame_id, port.full_name, Verdict.CORRUPTED, (far,),
                                     f"bit {bit % 8} of byte {bit // 8} flipped"))
        offered = end.offer(frame, now)
        if isinstance(offered, DropReason):
            return self._drop(port, frame_id, offered, transmit=True)
        arrival = impair.arrival(offered, end.link.latency_ns)
        if arrival == now:
            self._due.append((self._arrival, (end.far, frame_id, frame)))
        else:
            self.engine.at(arrival, self._arrival, end.far, frame_id, frame)

    def _arrive(self, port: Port, frame_id: int, frame: bytes, last: bool = True) -> None:
        """``frame`` arrives at ``port``: the node decides, the datapath applies (``last``: as for ``_transmit``)."""
        if not port.carrier:
            return self._drop(port, frame_id, DropReason.LINK_DOWN)
        if not port.up:
            return self._drop(port, frame_id, DropReason.INTERFACE_DOWN)
        size = len(frame)
        if size < ETH_HEADER_LEN:
            return self._drop(port, frame_id, DropReason.RUNT)
        if size - ETH_HEADER_LEN > port.mtu and payload_len(frame) > port.mtu:
            return self._drop(port, frame_id, DropReason.OVERSIZE)
        counters = port.tally
        counters.rx_packets += 1
        counters.rx_bytes += size
        now = self.engine.now
        seen = counters.seen  # on the counters: one type for every port, so this load stays specialised
        if seen is not None:  # a switch port: has this frame been through the switch before?
            slot = frame_id & _SEEN_MASK
            if seen[slot] == frame_id:
                if self._revisit(port, frame_id, frame):
                    return
            else:
                seen[slot] = frame_id
        node: Node = port.node  # typed: a direct call when compiled
        outputs, outcome, learned, frames = node.handle_frame(port, frame, now)
        ready = now
        if outcome is _DELIVERED and port.io is not None:  # a VM's I/O model, before the capture notes its cost
            ready = port.io.receive(size, now, frame_id)
        if port.rx_taps:
            for tap in port.rx_taps:
                tap.record(frame, now, frame_id, outcome, outputs)
        trace = self.trace
        if trace is not None and (trace.everything or frame_id in trace.open):
            trace.add(TraceEvent(now, frame_id, port.full_name, outcome, tuple(p.label for p in outputs),
                                 learned.value if learned is not None else ""))
        if outputs:
            if frames is not None:  # tags added or removed per output
                if len(outputs) == 1:
                    return self._transmit(outputs[0], frame_id, frames[0], outcome, last)
                self.stats.copies += len(outputs) - 1
                for out, copy in zip(outputs, frames):
                    self._transmit(out, frame_id, copy, outcome)
                return
            if len(outputs) == 1:
                return self._transmit(outputs[0], frame_id, frame, outcome, last)
            self._fan_out(node, outputs, frame_id, frame, outcome)
        elif outcome is _DELIVERED:
            if ready > now:  # a VM's I/O model: the guest has the frame once its vCPU got through
                self.engine.at(ready, self._deliver, port, frame_id, frame)
                return
            self._deliver(port, frame_id, frame)
        elif outcome is _TO_STP:  # a BPDU, taken by the bridge itself (l2/stp.py)
            self.stats.delivered += 1
        else:
            reason = cast(DropReason, outcome)  # no outputs and not delivered: a drop
            counters.rx_dropped[reason] += 1
            self.stats.dropped[reason] += 1

    def _fan_out(self, node: Node, outputs: tuple[Port, ...], frame_id: int, frame: bytes,
                 outcome: Verdict | DropReason) -> None:
        """``node``'s frame to many ports (a flood, a replication), in order.

        A copy nothing watches (``nic.silent_receiver``: no tap at either end, no I/O model, no guest stack;
        and no trace of this frame, no inbox), taken by a NIC within its MTU, leaves only counts: they are made
        here, or once for the whole flood by the batch of one of an adapter's ready lists; any other copy takes the
        normal path (``_transmit``), with the same counts (``tests/test_fanout.py``).
        """
        stats = self.stats
        stats.copies += len(outputs) - 1
        trace = self.trace
        if self.record or (trace is not None and (trace.everything or frame_id in trace.open)) or \
                len(frame) < ETH_HEADER_LEN:
            for out in outputs:
                self._transmit(out, frame_id, frame, outcome)
            return
        size = len(frame)
        over = size - ETH_HEADER_LEN  # the part the MTU limits
        everyone = frame.startswith(_BROADCAST)  # every NIC's filter takes it (l2/nic.py)
        if everyone:
            batch = node.flood_batch(outputs)
            if batch is not None and batch.version == STATE_VERSION.value and over <= batch.mtu:
                stats.delivered += len(batch.receivers)
                batch.count(size)
                for out in batch.loud:
                    self._transmit(out, frame_id, frame, outcome)
                return
        now = self.engine.now
        delivered = 0
        for out in outputs:
            to = silent_receiver(out)
            if to is not None and over <= to.mtu and (everyone or to.node.handle_frame(to, frame, now) is _TAKEN):
                sent = out.tally
                sent.tx_packets += 1
                sent.tx_bytes += size
                got = to.tally
                got.rx_packets += 1
                got.rx_bytes += size
                delivered += 1
                continue
            stats.delivered += delivered  # in step with the normal path's count before it runs
            delivered = 0
            self._transmit(out, frame_id, frame, outcome)
        stats.delivered += delivered

    def _deliver(self, port: Port, frame_id: int, frame: bytes) -> None:
        """A NIC's stack takes ``frame``: counted, kept in its inbox when recording, answered by its guest stack."""
        now = self.engine.now
        self.stats.delivered += 1
        node = port.node
        if isinstance(node, NIC):  # typed: field reads when compiled
            inbox, stack = node.inbox, node.stack
        else:  # a VXLAN port's tunnel endpoint (l2/vxlan.py): not a NIC, with an inbox and a stack too
            inbox, stack = node.inbox, node.stack
        if self.record:
            inbox.append(Delivery(now, frame_id, frame))
        if stack is not None:  # a guest stack (stackdriver.py) answers ARP, pings...
            answers = stack.receive(frame, now)
            if answers:  # most frames (a datagram to the discard port, an echo reply) draw none
                self.send_from_stack(port, answers)

    def _revisit(self, port: Port, frame_id: int, frame: bytes) -> bool:
        """A frame comes back to a switch it went through: a reflection, or a loop (``storm.py``). True: it is
        dropped here (the storm limit)."""
        now = self.engine.now
        if port.node.storm.revisit(port, frame_id, now):
            for tap in port.rx_taps:
                tap.record(frame, now, frame_id, DropReason.STORM_LIMIT, ())
            self._drop(port, frame_id, DropReason.STORM_LIMIT)
            return True
        self._due.append((_nothing, ()))  # later zero-delay hops of this lap queue up: no deep recursion
        return False

    def _drop(self, port: Port, frame_id: int, reason: DropReason, *, transmit: bool = False) -> None:
        (port.tally.tx_dropped if transmit else port.tally.rx_dropped)[reason] += 1
        self.stats.dropped[reason] += 1
        trace = self.trace
        if trace is not None and (trace.everything or frame_id in trace.open):
            trace.add(TraceEvent(self.engine.now, frame_id, port.full_name, reason))
