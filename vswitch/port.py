"""Ports: the named points where frames enter and leave nodes, with ``ip -s link``-style counters.

Every NIC, vNIC, switch port and adapter uplink is a ``Port``. A port's ``peer`` is where a frame it transmits
goes: a ``LinkEnd`` (a cable, with delay and queue) or another ``Port`` (an internal wire inside a hypervisor,
no delay). Capture taps hang on ports, per direction.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, Union

from .frame import DEFAULT_MTU
from .reasons import DropReason

if TYPE_CHECKING:
    from .capture import Tap
    from .link import LinkEnd


class PortCounters:
    """Packets and bytes each way, and drops by reason (like ``ip -s link``).

    ``seen`` is the one piece of per-port datapath state kept here rather than on the port: the ring of frame ids
    of an armed switch port (``storm.py``), None elsewhere. Every port has a ``PortCounters`` while ports come in
    several classes, so the datapath's load of ``counters.seen`` stays specialised (``port.seen`` measured three
    times dearer)."""

    __slots__ = ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "rx_dropped", "tx_dropped", "seen")

    def __init__(self) -> None:
        self.rx_packets = 0
        self.rx_bytes = 0
        self.tx_packets = 0
        self.tx_bytes = 0
        self.rx_dropped: Counter[DropReason] = Counter()
        self.tx_dropped: Counter[DropReason] = Counter()
        self.seen: list[int] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rx_packets": self.rx_packets, "rx_bytes": self.rx_bytes,
            "tx_packets": self.tx_packets, "tx_bytes": self.tx_bytes,
            "rx_dropped": {r.name: n for r, n in sorted(self.rx_dropped.items(), key=lambda x: x[0].name)},
            "tx_dropped": {r.name: n for r, n in sorted(self.tx_dropped.items(), key=lambda x: x[0].name)},
        }


class Port:
    """A named interface of a node."""

    def __init__(self, node: Any, name: str, *, mtu: int = DEFAULT_MTU, internal: bool = False) -> None:
        self.node = node
        self.name = name  # short name within the node, e.g. "p1", "eth0", "uplink"
        self.full_name = f"{node.name}.{name}"
        self.mtu = mtu
        self.up = True  # administrative state (ip link set up/down)
        self.carrier = True  # physical state: False while its link is down
        self.internal = internal  # an internal wire end: hidden from reports and capture lists
        self.peer: Union["LinkEnd", "Port", None] = None
        self.counters = PortCounters()
        self.rx_taps: list["Tap"] = []
        self.tx_taps: list["Tap"] = []
        self.tx_check: Any = None  # a vNIC's SR-IOV adapter: its check_transmit() runs on what the vNIC sends

    @property
    def label(self) -> str:
        """The name users know: an internal wire end is shown as the interface it leads to."""
        if self.internal and isinstance(self.peer, Port):
            return self.peer.full_name
        return self.full_name

    def __repr__(self) -> str:
        return f"<Port {self.full_name}>"
