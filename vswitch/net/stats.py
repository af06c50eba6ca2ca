"""A network's whole-run totals, which every frame's end updates (the datapath's per-frame code: compiled)."""

from __future__ import annotations

from collections import Counter

from ..core.reasons import DropReason


class NetworkStats:
    """Whole-run totals. ``copies`` counts the extra copies made by flooding and replication."""

    def __init__(self) -> None:
        self.injected = 0
        self.copies = 0
        self.delivered = 0
        self.dropped: Counter[DropReason] = Counter()

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    @property
    def in_flight(self) -> int:
        return self.injected + self.copies - self.delivered - self.dropped_total
