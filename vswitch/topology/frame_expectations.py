"""The expectations on frames, MAC tables and counters, read into frozen values: ``delivered``,
``not_delivered``, ``dropped``, ``table``, ``table_size`` and ``counter`` (docs/topology.md, expect).
``scenario/frame_checks.py`` checks them.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from typing import Any, Optional

from ..core.mac import MACAddress
from ..core.reasons import DropReason
from .fields import mac_value
from .spec import Expectation, Named
from .yamlreader import MapReader, boolean, describe, integer_between, text

DROP_REASONS = {reason.name.lower(): reason for reason in DropReason}
COUNTER_FIELDS = ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes")


def _reason(value: object) -> DropReason:
    name = text(value).lower()
    if name not in DROP_REASONS:
        close = difflib.get_close_matches(name, DROP_REASONS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (one of: {', '.join(DROP_REASONS)})"
        raise ValueError(f"unknown drop reason {name!r}{hint}")
    return DROP_REASONS[name]


def _names(value: object) -> tuple[str, ...]:
    """One interface name or a list of them."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"expected an interface name or a list of names, got {describe(value)}")


@dataclass(frozen=True, kw_only=True)
class FrameExpectation(Expectation):
    """An expectation on the frames of one name (a ``send``, a replay, a migration's announcements): its frames
    are watched from the start of the run (``scenario/frame_checks.watch_named_frames``)."""

    frame: str


@dataclass(frozen=True, kw_only=True)
class DeliveredCheck(FrameExpectation, kind="delivered"):
    """Every frame of the name reached each interface of ``to`` (``only``: and nothing else)."""

    to: tuple[str, ...]
    only: bool = False

    @classmethod
    def read(cls, r: MapReader) -> DeliveredCheck:
        check = cls(frame=r.take("frame", text), to=r.take("to", _names), only=r.take("only", boolean, default=False))
        r.finish()
        return check

    def named(self) -> Named:
        return (("to", self.to, "interface"),)


@dataclass(frozen=True, kw_only=True)
class NotDeliveredCheck(FrameExpectation, kind="not_delivered"):
    """No frame of the name reached any interface of ``to``."""

    to: tuple[str, ...]

    @classmethod
    def read(cls, r: MapReader) -> NotDeliveredCheck:
        check = cls(frame=r.take("frame", text), to=r.take("to", _names))
        r.finish()
        return check

    def named(self) -> Named:
        return (("to", self.to, "interface"),)


@dataclass(frozen=True, kw_only=True)
class DroppedCheck(FrameExpectation, kind="dropped"):
    """A frame of the name was dropped for ``reason`` (at the port ``at``, if given)."""

    reason: DropReason
    at: Optional[str] = None

    @classmethod
    def read(cls, r: MapReader) -> DroppedCheck:
        check = cls(frame=r.take("frame", text), reason=r.take("reason", _reason), at=r.take("at", text, default=None))
        r.finish()
        return check

    def named(self) -> Named:
        return (("at", self.at, "interface"),)


@dataclass(frozen=True, kw_only=True)
class TableCheck(Expectation, kind="table"):
    """The switch learned ``mac`` in ``vlan`` on ``port``, or (``absent``) has no entry for it."""

    switch: str
    mac: MACAddress
    port: Optional[str] = None
    absent: bool = False
    vlan: int = 1

    @classmethod
    def read(cls, r: MapReader) -> TableCheck:
        check = cls(switch=r.take("switch", text), mac=r.take("mac", mac_value),
                    port=r.take("port", text, default=None), absent=r.take("absent", boolean, default=False),
                    vlan=r.take("vlan", integer_between(0, 4095), default=1))
        if (check.port is None) == (not check.absent):
            r.error(None, "give port (where the MAC must be learned) or absent: true, not both")
        if check.port is not None and check.port.startswith(f"{check.switch}."):  # sw1.p1, as links write it
            check = replace(check, port=check.port[len(check.switch) + 1:])
        r.finish()
        return check

    def named(self) -> Named:
        return (("switch", self.switch, "switch"),)


@dataclass(frozen=True, kw_only=True)
class TableSizeCheck(Expectation, kind="table_size"):
    """The switch's table holds exactly ``entries`` entries."""

    switch: str
    entries: int

    @classmethod
    def read(cls, r: MapReader) -> TableSizeCheck:
        check = cls(switch=r.take("switch", text), entries=r.take("entries", integer_between(0, 10**9)))
        r.finish()
        return check

    def named(self) -> Named:
        return (("switch", self.switch, "switch"),)


@dataclass(frozen=True, kw_only=True)
class CounterCheck(Expectation, kind="counter"):
    """Counters of an interface or port, each None when not checked; the drop counters by reason."""

    interface: str
    rx_packets: Optional[int] = None
    rx_bytes: Optional[int] = None
    tx_packets: Optional[int] = None
    tx_bytes: Optional[int] = None
    rx_dropped: Optional[tuple[tuple[DropReason, int], ...]] = None
    tx_dropped: Optional[tuple[tuple[DropReason, int], ...]] = None

    @classmethod
    def read(cls, r: MapReader) -> CounterCheck:
        counts: dict[str, Any] = {"interface": r.take("interface", text)}
        for field in COUNTER_FIELDS:
            counts[field] = r.take(field, integer_between(0, 10**15), default=None)
        for field in ("rx_dropped", "tx_dropped"):
            present = field in r.mapping
            section = r.take_map(field, required=False)
            drops = {}
            for key in section.names("drop reason"):
                count = section.take(key, integer_between(0, 10**15))
                try:
                    drops[_reason(key)] = count
                except ValueError as exc:
                    section.error(key, str(exc))
            section.finish()
            counts[field] = tuple(drops.items()) if present else None
        if all(value is None for field, value in counts.items() if field != "interface"):
            r.error(None, f"name at least one counter: {', '.join(COUNTER_FIELDS)}, rx_dropped, tx_dropped")
        r.finish()
        return cls(**counts)

    def named(self) -> Named:
        return (("interface", self.interface, "interface"),)

    def wanted(self) -> list[tuple[str, Any]]:
        """The counters it checks, in the order of the fields: (name, count or ((reason, count), ...))."""
        counts = (("rx_packets", self.rx_packets), ("rx_bytes", self.rx_bytes), ("tx_packets", self.tx_packets),
                  ("tx_bytes", self.tx_bytes), ("rx_dropped", self.rx_dropped), ("tx_dropped", self.tx_dropped))
        return [(name, value) for name, value in counts if value is not None]
