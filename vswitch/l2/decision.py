"""What a node decides for one frame: the value every switch, adapter and NIC returns to the datapath.

Nodes only decide (DESIGN.md: the learning logic returns what should happen); the datapath applies the decision:
it transmits the copies, counts the drop, records the captures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from ..core.reasons import DropReason, Verdict
from .fdb import LearnResult
from .port import Port

if TYPE_CHECKING:
    from .flood_batch import FloodBatch


class Decision(NamedTuple):
    """What a node decided for one frame: where copies go, or why there are none.

    ``frames``, when given, holds the bytes each output sends (a VLAN tag added or removed); None: the frame as it
    arrived goes out everywhere."""

    outputs: tuple[Port, ...]
    outcome: Verdict | DropReason
    learned: LearnResult | None = None
    frames: tuple[bytes, ...] | None = None


class Node:
    """A device frames arrive at: a switch, an adapter or a NIC. The datapath asks ``handle_frame`` what happens to
    each frame that arrives on one of its ports. (Compiled, this base class makes that call a direct one, not a
    method lookup by name on an untyped ``port.node``.)"""

    def handle_frame(self, port: Port, frame: bytes, now: int) -> Decision:
        """Decide what happens to ``frame``, arrived on ``port`` (one of this node's) at ``now``."""
        raise NotImplementedError

    def flood_batch(self, outputs: tuple[Port, ...]) -> "FloodBatch | None":
        """The batch that counts the silent copies of ``outputs`` in bulk, if ``outputs`` is one of this node's
        ready flood lists (``flood_batch.py``; an adapter's); None: each copy is counted on its own."""
        return None
