"""Ports, the named points where frames enter and leave nodes, and the links (cables) that join them.

Every NIC, vNIC, switch port and adapter uplink is a ``Port`` with ``ip -s link``-style counters. A port's
``peer`` is where a frame it transmits goes: a ``LinkEnd`` (one direction of a ``Link``: a cable, with delay and
queue) or another ``Port`` (an internal wire inside a hypervisor, no delay). Capture taps (``Tap``) hang on
ports, per direction.

An internal wire end (``internal``: an adapter's or host bridge's side of the wire to a vNIC or to the host's own
interface) has no row in reports, so ``wire_internal`` makes it count its drops on the interface it leads to.

``LinkEnd.offer(frame, now)`` returns the arrival time at the far end, or the ``DropReason`` for a tail drop or a
down link; the network schedules the arrival. Each direction has its own queue. Serialisation counts the whole
wire frame: preamble and SFD (8 bytes), the frame, FCS (4) and the inter-frame gap (12).
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any, Final, Iterable, Union

from ..core.errors import TopologyError
from ..core.frame import DEFAULT_MTU
from ..core.reasons import DropReason, Verdict
from .impair import ImpairedDirection, Impairment

WIRE_OVERHEAD_BYTES: Final = 8 + 4 + 12
DEFAULT_QUEUE_FRAMES: Final = 1000  # Linux txqueuelen


class StateVersion:
    """How many times something changed that decides whether a copy of a frame is watched, or taken at all: a
    port's admin state, carrier, MTU, I/O model, taps or peer, a NIC's stack. The flood batches
    (``flood_batch.py``), which count copies nobody watches in bulk, are made again after any change."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


#: The one version every port and NIC bumps (one for the process: a change anywhere remakes every batch).
STATE_VERSION: Final = StateVersion()


class PendingCounts:
    """Counts kept elsewhere for a while (an adapter's ``flood_batch.FloodLedger``): ``settle`` puts them on their
    ports' counters; ``pending``: there are some."""

    def __init__(self) -> None:
        self.pending = False

    def settle(self) -> None:
        raise NotImplementedError


class PortTally:
    """What the datapath adds to: packets and bytes each way, drops by reason. Read them through ``PortCounters``
    (``port.counters``): an adapter's flood may still hold some of this port's packets (``ledger``).

    ``seen`` is the one piece of per-port datapath state kept here rather than on the port: the ring of frame ids
    of an armed switch port (``storm.py``), None elsewhere. Every port has a ``PortTally`` while ports come in
    several classes, so the datapath's load of ``tally.seen`` stays specialised (``port.seen`` measured three
    times dearer)."""

    __slots__ = ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "rx_dropped", "tx_dropped", "seen", "ledger")

    def __init__(self) -> None:
        self.rx_packets = 0
        self.rx_bytes = 0
        self.tx_packets = 0
        self.tx_bytes = 0
        self.rx_dropped: Counter[DropReason] = Counter()
        self.tx_dropped: Counter[DropReason] = Counter()
        self.seen: list[int] | None = None
        self.ledger: PendingCounts | None = None  # its adapter's flood counts kept in bulk, once it has any


class PortCounters:
    """A port's counters as ``ip -s link`` shows them: packets and bytes each way, and drops by reason.

    A live view: each read first adds the copies an adapter's flood still holds for this port
    (``flood_batch.py``), so an object kept from before a run reads the same as a fresh ``port.counters``."""

    __slots__ = ("_tally",)

    def __init__(self, tally: PortTally) -> None:
        self._tally = tally

    def _settled(self) -> PortTally:
        tally = self._tally
        ledger = tally.ledger
        if ledger is not None and ledger.pending:
            ledger.settle()
        return tally

    @property
    def rx_packets(self) -> int:
        return self._settled().rx_packets

    @property
    def rx_bytes(self) -> int:
        return self._settled().rx_bytes

    @property
    def tx_packets(self) -> int:
        return self._settled().tx_packets

    @property
    def tx_bytes(self) -> int:
        return self._settled().tx_bytes

    @property
    def rx_dropped(self) -> Counter[DropReason]:
        """Frames dropped on the way in, by reason (never held by a flood)."""
        return self._tally.rx_dropped

    @property
    def tx_dropped(self) -> Counter[DropReason]:
        """Frames dropped on the way out, by reason."""
        return self._tally.tx_dropped

    @property
    def seen(self) -> list[int] | None:
        """An armed switch port's ring of frame ids (``storm.py``); None elsewhere."""
        return self._tally.seen

    def as_dict(self) -> dict[str, Any]:
        return {
            "rx_packets": self.rx_packets, "rx_bytes": self.rx_bytes,
            "tx_packets": self.tx_packets, "tx_bytes": self.tx_bytes,
            "rx_dropped": {r.name: n for r, n in sorted(self.rx_dropped.items(), key=lambda x: x[0].name)},
            "tx_dropped": {r.name: n for r, n in sorted(self.tx_dropped.items(), key=lambda x: x[0].name)},
        }


class Port:
    """A named interface of a node.

    ``up``, ``carrier``, ``mtu``, ``peer``, ``io`` and the taps are properties: changing one bumps
    ``STATE_VERSION``. The datapath adds to ``tally``; users read ``counters``, which include the flood copies an
    adapter still counts in bulk (``flood_batch.py``)."""

    def __init__(self, node: Any, name: str, *, mtu: int = DEFAULT_MTU, internal: bool = False) -> None:
        self.node = node
        self.name = name  # short name within the node, e.g. "p1", "eth0", "uplink"
        self.full_name = f"{node.name}.{name}"
        self._mtu = mtu
        self._up = True  # administrative state (ip link set up/down)
        self._carrier = True  # physical state: False while its link is down
        self.internal = internal  # an internal wire end: hidden from reports and capture lists (wire_internal)
        self._peer: Union["LinkEnd", "Port", None] = None
        self.tally = PortTally()
        self.counters = PortCounters(self.tally)
        self._rx_taps: tuple["Tap", ...] = ()
        self._tx_taps: tuple["Tap", ...] = ()
        self.tx_check: Any = None  # a vNIC's SR-IOV adapter: its check_transmit() runs on what the vNIC sends
        self._io: Any = None  # a VM's I/O model (io/accounting.py): what each frame it sends or receives costs

    @property
    def up(self) -> bool:
        """Administrative state (``ip link set up/down``)."""
        return self._up

    @up.setter
    def up(self, state: bool) -> None:
        self._up = state
        STATE_VERSION.value += 1

    @property
    def carrier(self) -> bool:
        """Physical state: False while its link is down."""
        return self._carrier

    @carrier.setter
    def carrier(self, state: bool) -> None:
        self._carrier = state
        STATE_VERSION.value += 1

    @property
    def mtu(self) -> int:
        return self._mtu

    @mtu.setter
    def mtu(self, mtu: int) -> None:
        self._mtu = mtu
        STATE_VERSION.value += 1

    @property
    def peer(self) -> Union["LinkEnd", "Port", None]:
        """Where a frame it transmits goes: a cable's end, an internal wire's other end, or nowhere."""
        return self._peer

    @peer.setter
    def peer(self, peer: Union["LinkEnd", "Port", None]) -> None:
        self._peer = peer
        STATE_VERSION.value += 1

    @property
    def io(self) -> Any:
        """A VM's I/O model (io/accounting.py): what each frame it sends or receives costs; None: none."""
        return self._io

    @io.setter
    def io(self, model: Any) -> None:
        self._io = model
        STATE_VERSION.value += 1

    @property
    def rx_taps(self) -> tuple["Tap", ...]:
        """The taps frames arriving here are shown to (``add_tap``)."""
        return self._rx_taps

    @property
    def tx_taps(self) -> tuple["Tap", ...]:
        """The taps frames leaving here are shown to (``add_tap``)."""
        return self._tx_taps

    def add_tap(self, tap: "Tap", direction: str) -> None:
        """Show ``tap`` every frame crossing this port in ``direction``: "in" or "out"."""
        if direction == "in":
            self._rx_taps += (tap,)
        elif direction == "out":
            self._tx_taps += (tap,)
        else:
            raise TopologyError(f"{self.full_name}: a tap's direction is 'in' or 'out', not {direction!r}")
        STATE_VERSION.value += 1

    @property
    def label(self) -> str:
        """The name users know: an internal wire end is shown as the interface it leads to."""
        if self.internal and isinstance(self.peer, Port):
            return self.peer.full_name
        return self.full_name

    def __repr__(self) -> str:
        return f"<Port {self.full_name}>"


def wire_internal(inner: Port, outer: Port) -> None:
    """Join ``inner``, a node's hidden wire end (``internal``), to the interface ``outer`` with a delay-free wire.

    ``inner`` has no row in reports, so its drops are counted on ``outer``, as ``outer`` sees them (its drop
    tables *are* ``outer``'s): a frame ``outer`` sent that the node then dropped is a tx drop of ``outer``, like a
    VF's transmit checks; one on its way to ``outer`` an rx drop. Its packet counters stay its own (they repeat
    ``outer``'s). Every drop is then on a port the report lists, and ``counter`` expectations see it there.
    """
    inner.peer, outer.peer = outer, inner
    inner.tally.rx_dropped = outer.tally.tx_dropped
    inner.tally.tx_dropped = outer.tally.rx_dropped


class Tap:
    """What a port calls for each frame crossing it in a captured direction (a native base class when compiled, so
    the datapath's call is a direct one)."""

    __slots__ = ()

    def record(self, frame: bytes, now: int, frame_id: int, outcome: Verdict | DropReason,
               outputs: Iterable[Port]) -> None:
        raise NotImplementedError


class LinkEnd:
    """One direction of a link: frames entering at ``port`` travel to ``far``."""

    __slots__ = ("link", "port", "far", "impair", "_busy_until", "_waiting")

    def __init__(self, link: "Link", port: Port, far: Port) -> None:
        self.link = link
        self.port = port
        self.far = far
        self.impair: ImpairedDirection | None = None  # loss, jitter... (impair.py); None: a perfect wire
        self._busy_until = 0
        self._waiting: deque[int] = deque()  # transmit start times of queued frames

    def offer(self, frame: bytes, now: int) -> int | DropReason:
        """Queue ``frame`` for transmission; return its arrival time at ``far`` or why it was dropped."""
        link = self.link
        if not link.up:
            return DropReason.LINK_DOWN
        if link.bandwidth_bps is None:
            return now + link.latency_ns
        waiting = self._waiting
        while waiting and waiting[0] <= now:
            waiting.popleft()
        start = self._busy_until if self._busy_until > now else now
        if start > now:
            if len(waiting) >= link.queue_frames:
                return DropReason.QUEUE_FULL
            waiting.append(start)
        bits = (len(frame) + WIRE_OVERHEAD_BYTES) * 8
        done = start + -(-bits * 1_000_000_000 // link.bandwidth_bps)
        self._busy_until = done
        return done + link.latency_ns

    def queued(self, now: int) -> int:
        return sum(1 for start in self._waiting if start > now)


class Link:
    """A full-duplex cable joining two ports."""

    def __init__(self, a: Port, b: Port, *, latency_ns: object = 0, bandwidth_bps: object = None,
                 queue_frames: object = DEFAULT_QUEUE_FRAMES, name: str | None = None) -> None:
        """``latency_ns``, ``bandwidth_bps`` (None: no limit) and ``queue_frames`` must be ints (not bools);
        anything else raises TopologyError."""
        for port in (a, b):
            if port.peer is not None:
                raise TopologyError(f"port {port.full_name} is already connected")
        if a is b:
            raise TopologyError(f"cannot connect port {a.full_name} to itself")
        if (not isinstance(latency_ns, int) or (bandwidth_bps is not None and not isinstance(bandwidth_bps, int))
                or isinstance(latency_ns, bool) or isinstance(bandwidth_bps, bool)):  # True is a mistake, not 1 ns
            raise TopologyError(f"link {a.full_name}--{b.full_name}: latency (ns) and bandwidth (bit/s) must be integers")
        if latency_ns < 0:
            raise TopologyError(f"link {a.full_name}--{b.full_name}: latency must be >= 0")
        if bandwidth_bps is not None and bandwidth_bps <= 0:
            raise TopologyError(f"link {a.full_name}--{b.full_name}: bandwidth must be > 0")
        if not isinstance(queue_frames, int) or isinstance(queue_frames, bool):
            raise TopologyError(f"link {a.full_name}--{b.full_name}: queue must be an integer number of frames, "
                                f"not {queue_frames!r}")
        if queue_frames < 0:
            raise TopologyError(f"link {a.full_name}--{b.full_name}: queue must be >= 0 frames")
        self.name = name or f"{a.full_name}--{b.full_name}"
        self.latency_ns = latency_ns
        self.bandwidth_bps = bandwidth_bps
        self.queue_frames = queue_frames
        self._up = True
        self.plain = bandwidth_bps is None  # up, no bandwidth, no impairments: the datapath's shortcut
        self.a_to_b = LinkEnd(self, a, b)
        self.b_to_a = LinkEnd(self, b, a)
        a.peer = self.a_to_b
        b.peer = self.b_to_a

    @property
    def up(self) -> bool:
        return self._up

    @up.setter
    def up(self, state: bool) -> None:
        self._up = state
        self._replan()

    def set_impairment(self, end: LinkEnd, settings: Impairment, seed: str) -> None:
        """Give one direction (``a_to_b`` or ``b_to_a``) impairments, drawn from ``random.Random(seed)``; inactive
        settings leave it a perfect wire."""
        end.impair = ImpairedDirection(settings, seed) if settings.active else None
        self._replan()

    def _replan(self) -> None:
        self.plain = (self._up and self.bandwidth_bps is None and self.a_to_b.impair is None
                      and self.b_to_a.impair is None)

    @property
    def ports(self) -> tuple[Port, Port]:
        return self.a_to_b.port, self.b_to_a.port

    def disconnect(self) -> None:
        for end in (self.a_to_b, self.b_to_a):
            end.port.peer = None

    def __repr__(self) -> str:
        return f"<Link {self.name} {'up' if self.up else 'down'}>"
