"""The impairment keys of a link (``loss``, ``jitter``, ``order``, ``duplicate``, ``corrupt``; docs/impairments.md)
and of its one-way overrides ``a_to_b`` and ``b_to_a``, read into one ``Impairment`` per direction."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..l2.impair import Impairment
from .fields import places, virtual_time
from .located import LocatedMap
from .spec import Expectation, Named
from .yamlreader import MapReader, describe, one_of, text

KEYS = ("loss", "jitter", "order", "duplicate", "corrupt")
DIRECTIONS = ("a_to_b", "b_to_a")
ORDERS = ("keep", "reorder")
_GEMODEL_KEYS = ("p", "r", "1-h", "1-k")


def probability(value: object) -> float:
    """A probability written ``5%`` or ``0.05`` (0 to 1)."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            number = float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f"expected a percentage such as 5% or 0.5%, got {value!r}") from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        raise ValueError(f"expected a probability such as 5% or 0.05, got {describe(value)}")
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise ValueError(f"{value} is not a probability: write 0% to 100% (or 0 to 1)")
    return number


def _loss(r: MapReader) -> tuple[float, Any]:
    """``loss: 5%`` (random, netem ``loss random``) or ``loss: {p, r, 1-h, 1-k}`` (netem ``loss gemodel``)."""
    if not isinstance(r.mapping.get("loss"), LocatedMap):
        return r.take("loss", probability, default=0.0), None
    model = r.take_map("loss")
    p = model.take("p", probability)
    recover = model.take("r", probability, default=None)
    in_bad = model.take("1-h", probability, default=1.0)
    in_good = model.take("1-k", probability, default=0.0)
    model.finish()
    if p is None or in_bad is None or in_good is None:
        return 0.0, None
    return 0.0, (p, 1.0 - p if recover is None else recover, in_bad, in_good)  # tc's default r is 1-p


def _values(r: MapReader) -> dict[str, Any]:
    """The impairment keys given in ``r``, as ``Impairment`` fields."""
    values: dict[str, Any] = {}
    if "loss" in r.mapping:
        values["loss"], values["burst"] = _loss(r)
    if "jitter" in r.mapping:
        values["jitter_ns"] = r.take("jitter", virtual_time(r))
    if "order" in r.mapping:
        values["reorder"] = r.take("order", one_of(*ORDERS)) == "reorder"
    for key in ("duplicate", "corrupt"):
        if key in r.mapping:
            values[key] = r.take(key, probability)
    for key in KEYS:
        r.take(key, lambda v: v, default=None)  # known even where absent
    return {k: v for k, v in values.items() if v is not None}


def read_impairments(r: MapReader) -> tuple[Impairment, Impairment]:
    """The link's impairments from a to b and from b to a: the link's keys, then each direction's own."""
    both = _values(r)
    out = []
    for direction in DIRECTIONS:
        own: dict[str, Any] = {}
        if direction in r.mapping:
            d = r.take_map(direction)
            own = _values(d)
            d.finish()
        else:
            r.take(direction, lambda v: v, default=None)
        out.append(Impairment(**{**both, **own}))
    return out[0], out[1]


def _bounds(value: object) -> tuple[float, float]:
    """``[low, high]``, two probabilities in order."""
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError(f"expected [LOW, HIGH], e.g. between: [4%, 6%], got {describe(value)}")
    low, high = probability(value[0]), probability(value[1])
    if low > high:
        raise ValueError(f"between: {value[0]} is above {value[1]}: write the lower bound first")
    return low, high


def link_ends(name: str) -> tuple[str, ...]:
    """``h1--sw1.p1`` (a link: both directions) -> ("h1", "sw1.p1"); an interface -> (name,) (what it sends)."""
    if "--" in name:
        a, _, b = name.partition("--")
        return a, b
    return (name,)


@dataclass(frozen=True, kw_only=True)
class LossCheck(Expectation, kind="loss"):
    """The share of frames a link lost to its impairments is within ``between`` (both ends included): on an
    interface, of what it sent onto its cable; on a link ``A--B``, its impaired directions together."""

    on: str
    between: tuple[float, float]

    @classmethod
    def read(cls, r: MapReader) -> LossCheck:
        check = cls(on=r.take("on", text), between=r.take("between", _bounds), places=places(r, "on"))
        r.finish()
        return check

    def named(self) -> Named:
        return (("on", link_ends(self.on or ""), "interface"),)
