"""What a topology file may make a run do: how many devices and frames, and how much virtual time.

The YAML loader bounds the text (``limits.Limits``: size, depth, aliases, values, string length); these
checks bound what the text asks for, so that no file, however hostile, makes ``vswitch run`` allocate or loop
without bound:

- ``check_devices``: switches, hypervisors, VMs and host NICs, counted on the raw document before anything is
  read, so that a file of 50 000 VMs stops at once;
- ``ScenarioBudget``: the frames the scenario's actions send (each action's ``frame_budget``: ``count`` of send,
  stream, ping, arping and udp, announcement rounds of migrate), and the time of each action's last frame;
- ``check_network``: links so slow that a full queue would drain after the time limit.

Switching loops are not refused: the switches detect them and bound the storm at run time (``storm.py``).

Each problem names the field, the limit and the flag that raises it (``Limits.exceeded``); the limits and their
reasons are listed in ``docs/limits.md``.
"""

from __future__ import annotations

import math

from ..core.units import format_rate
from ..guests.stream import period_ns
from .limits import LIMITS
from .located import Document, LocatedList, LocatedMap, Location, key_path
from .spec import Action, LinkSpec, TopologySpec, Where
from .yamlreader import MapReader

FULL_FRAME_BYTES = 1514  # the frame a full queue is assumed to hold when checking how long it takes to drain


def check_devices(top: MapReader) -> None:
    """Stop reading at once (raise ``TopologyFileError``) if the file lists more devices than the limit."""
    document, mapping = top.document, top.mapping
    limits = document.limits
    total, crossed = 0, None  # crossed: (location, path) of the list that went over the limit
    for section in ("switches", "hosts", "hypervisors"):
        items = mapping.get(section)
        if not isinstance(items, LocatedList):
            continue
        places = [(mapping.value_locations[section], section, len(items) if section == "switches" else 0)]
        for index, item in enumerate(items if section != "switches" else ()):
            inner = item.get("nics" if section == "hosts" else "vms") if isinstance(item, LocatedMap) else None
            size = len(inner) if isinstance(inner, LocatedList) else 0
            if section == "hosts":
                places.append((items.item_locations[index], f"{section}[{index}]", max(1, size)))
            else:
                places.append((items.item_locations[index], f"{section}[{index}]", 1))
                if size:
                    places.append((item.value_locations["vms"], f"{section}[{index}].vms", size))
        for location, path, count in places:
            total += count
            if crossed is None and total > limits.max_devices:
                crossed = (location, path)
    if crossed is not None:
        document.report(crossed[0], crossed[1], limits.exceeded(
            "devices", f"the file lists {total} devices (switches, hypervisors, VMs and host NICs), more than "
                       f"{limits.max_devices}", needed=total))
        document.check()


class ScenarioBudget:
    """Adds up the frames of the scenario's actions as they are read; reports the action that goes over."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.frames = 0
        self.reported = False

    def add(self, item: MapReader, action: Action, at_ns: int) -> None:
        """Count the frames of ``action``, read from ``item`` (at ``at_ns``)."""
        limits = self.document.limits
        body = item.mapping.get(action.kind)
        body = body if isinstance(body, LocatedMap) else LocatedMap(item.mapping.location)
        action_path = key_path(item.path, action.kind)
        count, period = action.frame_budget()
        if not isinstance(count, int) or count < 1:
            return
        self.frames += count
        if self.frames > limits.max_frames and not self.reported:
            self.reported = True
            self.document.report(body.value_locations.get("count", body.location), key_path(action_path, "count"),
                                 limits.exceeded("frames", f"with this action the scenario sends {self.frames} "
                                                           f"frames, more than {limits.max_frames}",
                                                 needed=self.frames))
        if count > 1 and period and at_ns + (count - 1) * period > limits.max_time_ns:
            last = math.ceil(at_ns + (count - 1) * period)
            self.document.report(body.location, action_path, limits.exceeded(
                "time", f"its last frame leaves at {_time(last)}, later than a run may last", needed=_rounded(last)))


def check_network(spec: TopologySpec, document: Document) -> None:
    """Report links so slow that a full queue would drain after the time limit."""
    for link in spec.links:
        _check_drain(link, document)


def _check_drain(link: LinkSpec, document: Document) -> None:
    limits = document.limits
    if not link.bandwidth_bps or not link.queue_frames:
        return
    drain = math.ceil(link.queue_frames * period_ns(bps=link.bandwidth_bps, frame_len=FULL_FRAME_BYTES))
    if drain + link.latency_ns > limits.max_time_ns:
        _report(document, link.where, limits.exceeded(
            "time", f"a full queue of {link.queue_frames} frames at {format_rate(link.bandwidth_bps)} drains in "
                    f"{_time(drain)}, later than a run may last: raise the bandwidth or shorten the queue",
            needed=_rounded(drain + link.latency_ns)), field="bandwidth")


def _rounded(ns: int) -> int:
    """``ns`` rounded up to whole hours (or seconds), for messages and ``--limit time=`` suggestions."""
    unit = 3600 * 10**9 if ns >= 3600 * 10**9 else 10**9
    return -(-ns // unit) * unit


def _time(ns: int) -> str:
    return LIMITS["time"].show(_rounded(ns))


def _report(document: Document, place: Where, message: str, field: str | None = None) -> None:
    path = key_path(place.path, field) if field and place.path else place.path
    document.report(Location(place.line, place.column) if place.line else None, path, message)
