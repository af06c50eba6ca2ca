"""Link impairments, one direction of one cable: loss (random or Gilbert-Elliott bursts), jitter, duplication and
corruption, as Linux's ``tc qdisc ... netem`` applies them (``net/sched/sch_netem.c``; docs/impairments.md).

Every draw comes from the direction's own ``random.Random``, seeded from the topology's ``seed`` and the
direction's name, so a file replays the same fates on every machine and under every ``PYTHONHASHSEED``; a link
without impairments has none of this (its ``LinkEnd.impair`` is None) and costs the datapath nothing.

Per frame, in netem's order (``netem_enqueue``): a duplication draw, the loss draw(s), then a corruption draw (and
the byte and bit it flips); the surviving copies then get their own delay draw. A duplicate goes through loss,
corruption and delay again on its own, never duplicated twice, as netem re-enqueues its clone with duplication off.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Optional

from ..core.errors import TopologyError
from ..core.reasons import DropReason

GilbertElliott = tuple[float, float, float, float]  # netem's gemodel p, r, 1-h, 1-k (probabilities 0..1)


@dataclass(frozen=True)
class Impairment:
    """What one direction of a link does to frames (all probabilities in 0..1, as floats).

    ``loss``: each frame lost with this probability (netem ``loss random``); ``burst``: netem's ``loss gemodel``
    (p: good -> bad, r: bad -> good, 1-h: loss in bad, 1-k: loss in good) instead. ``jitter_ns``: each frame's
    delay is the link's latency plus a uniform draw in [-jitter, +jitter) (netem's default, without a distribution
    table), never below zero. ``reorder``: False keeps the order frames were sent in (a frame never overtakes an
    earlier one: netem with ``rate``); True lets jitter reorder them (netem's time-sorted queue without ``rate``).
    ``duplicate``, ``corrupt``: the probability of a second copy, of one bit flipped at a random position."""

    loss: float = 0.0
    burst: Optional[GilbertElliott] = None
    jitter_ns: int = 0
    reorder: bool = False
    duplicate: float = 0.0
    corrupt: float = 0.0

    def __post_init__(self) -> None:
        """Refuse values netem would refuse (``TopologyError``): probabilities outside 0..1, a negative jitter."""
        burst = self.burst
        if burst is not None and (not isinstance(burst, tuple) or len(burst) != 4):
            raise TopologyError(f"Impairment: burst is (p, r, 1-h, 1-k), not {burst!r}")
        for name, value in (("loss", self.loss), ("duplicate", self.duplicate), ("corrupt", self.corrupt),
                            *zip(("burst p", "burst r", "burst 1-h", "burst 1-k"), burst or ())):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise TopologyError(f"Impairment: {name} must be a probability from 0.0 to 1.0, not {value!r}")
        if isinstance(self.jitter_ns, bool) or not isinstance(self.jitter_ns, int) or self.jitter_ns < 0:
            raise TopologyError(f"Impairment: jitter_ns must be an int >= 0, not {self.jitter_ns!r}")
        if not isinstance(self.reorder, bool):
            raise TopologyError(f"Impairment: reorder must be True or False, not {self.reorder!r}")

    @property
    def active(self) -> bool:
        return bool(self.loss or self.burst or self.jitter_ns or self.duplicate or self.corrupt)


def direction_seed(seed: int, sender: str, receiver: str) -> str:
    """The seed of one direction's draws: the topology's ``seed`` and the two ports' names, so that each direction
    has its own stream, the same on every machine, and another ``seed`` changes them all."""
    return f"vswitch-impair/{seed}/{sender}>{receiver}"


class ImpairedDirection:
    """An ``Impairment`` at work on one direction of a link: its random stream, burst state and counts."""

    def __init__(self, settings: Impairment, seed: str) -> None:
        self.settings = settings
        self.seed = seed
        self.rng = random.Random(seed)  # a str seed is hashed with SHA-512: the same stream everywhere
        self.bad = False  # Gilbert-Elliott state
        self.last_arrival = 0  # with reorder off, no frame arrives before this
        self.offered = 0  # frames (and duplicates) that met the impairments
        self.lost: Counter[DropReason] = Counter()
        self.duplicated = 0
        self.corrupted = 0

    def duplicates(self) -> bool:
        """Whether this frame gets a second copy (draws only when duplication is on)."""
        p = self.settings.duplicate
        return p > 0.0 and self.rng.random() < p

    def lose(self) -> Optional[DropReason]:
        """Whether this copy is lost, and how (netem ``loss_event``); counts it as offered."""
        self.offered += 1
        settings = self.settings
        burst = settings.burst
        rng = self.rng
        if burst is not None:
            p, r, one_minus_h, one_minus_k = burst
            if not self.bad:  # loss_gilb_ell: the transition, then the loss of the state the frame met
                if rng.random() < p:
                    self.bad = True
                lost = rng.random() < one_minus_k
            else:
                if rng.random() < r:
                    self.bad = False
                lost = rng.random() < one_minus_h
            return DropReason.LOST_BURST if lost else None
        if settings.loss > 0.0 and rng.random() < settings.loss:
            return DropReason.LOST_RANDOM
        return None

    def corrupt(self, frame: bytes) -> tuple[bytes, int]:
        """``frame`` with one bit flipped at a random place (any byte, any bit, as netem), and the bit's index in
        the frame (-1: left whole)."""
        p = self.settings.corrupt
        if p <= 0.0 or not frame or self.rng.random() >= p:
            return frame, -1
        byte = self.rng.randrange(len(frame))
        bit = self.rng.randrange(8)
        self.corrupted += 1
        changed = bytearray(frame)
        changed[byte] ^= 1 << bit
        return bytes(changed), byte * 8 + bit

    def arrival(self, offered: int, latency_ns: int) -> int:
        """When a copy the wire delivers at ``offered`` (latency included) arrives after jitter and the order
        policy."""
        jitter = self.settings.jitter_ns
        if jitter:
            offered += max(-latency_ns, self.rng.randrange(-jitter, jitter))
        if not self.settings.reorder:
            if offered < self.last_arrival:
                offered = self.last_arrival
            self.last_arrival = offered
        return offered

    def rates(self) -> dict[str, int]:
        """Counts for reports and expectations."""
        return {"offered": self.offered, "lost_random": self.lost[DropReason.LOST_RANDOM],
                "lost_burst": self.lost[DropReason.LOST_BURST], "duplicated": self.duplicated,
                "corrupted": self.corrupted}
