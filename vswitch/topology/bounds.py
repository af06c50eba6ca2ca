"""What a topology file may make a run do: how many devices and frames, and how much virtual time.

The YAML loader bounds the text (``limits.Limits``: size, depth, aliases, values, string length); these
checks bound what the text asks for, so that no file, however hostile, makes ``vswitch run`` allocate or loop
without bound:

- ``check_devices``: switches, hypervisors, VMs and host NICs, counted on the raw document before anything is
  read, so that a file of 50 000 VMs stops at once;
- ``ScenarioBudget``: the frames the scenario's actions send (each action's ``frame_budget``: ``count`` of send,
  stream, ping, arping and udp, the announcement of migrate: its RARP rounds and the guest's own frames), and
  the time of each action's last frame;
- ``check_network``: links so slow that a full queue would drain after the time limit.

Switching loops are not refused: the switches detect them and bound the storm at run time (``storm.py``).

Each problem names the field, the limit and the flag that raises it (``Limits.exceeded``); the limits and their
reasons are listed in ``docs/limits.md``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction
from typing import Optional, Sequence

from ..core.units import format_rate
from ..guests.stream import period_ns
from .io_reader import io_after_move
from .limits import LIMITS
from .located import Document, LocatedList, LocatedMap, Location, key_path
from .macplan import vm_mac_table
from .spec import Action, HostSpec, HypervisorSpec, IoSpec, LinkSpec, TopologySpec, VmState, Where
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
    """Adds up the frames of the scenario's actions (``finish``, once all are read); reports the action that goes
    over. A migration's count depends on its VM (``Action.frame_budget``'s ``vms``): its MAC, given or planned
    (``macplan.py``), its stack, and the I/O model it runs under then, which follows it from one migration to the
    next (``io_reader.io_after_move``), so the actions are taken in time order (a run's) for that."""

    def __init__(self, document: Document, hosts: Sequence[HostSpec], hypervisors: Sequence[HypervisorSpec]) -> None:
        self.document = document
        self.hosts, self.hypervisors = hosts, hypervisors
        self.frames = 0
        self.actions: list[tuple[int, Action, LocatedMap, str]] = []  # (at, action, its mapping, path) in file order

    def add(self, item: MapReader, action: Action, at_ns: int) -> None:
        """Note ``action``, read from ``item`` (at ``at_ns``)."""
        body = item.mapping.get(action.kind)
        body = body if isinstance(body, LocatedMap) else LocatedMap(item.mapping.location)
        self.actions.append((at_ns, action, body, key_path(item.path, action.kind)))

    def finish(self) -> None:
        """Count every action's frames, in time order, and report the one that takes the total over the limit."""
        budgets = self._budgets()
        limits = self.document.limits
        for (at_ns, action, body, path), (count, period) in zip(self.actions, budgets):
            if not isinstance(count, int) or count < 1:
                continue
            crossed = self.frames <= limits.max_frames < self.frames + count
            self.frames += count
            if crossed:  # at its count, or at the action itself (a migration's announcement has none)
                self.document.report(body.value_locations.get("count", body.location),
                                     key_path(path, "count") if "count" in body else path, limits.exceeded(
                    "frames", f"with this action the scenario sends {self.frames} frames, more than "
                              f"{limits.max_frames}", needed=self.frames))
            if count > 1 and period and at_ns + (count - 1) * period > limits.max_time_ns:
                last = math.ceil(at_ns + (count - 1) * period)
                self.document.report(body.location, path, limits.exceeded(
                    "time", f"its last frame leaves at {_time(last)}, later than a run may last",
                    needed=_rounded(last)))

    def _budgets(self) -> list[tuple[Optional[int], Optional[Fraction]]]:
        """Each action's ``frame_budget``, in file order, each given the VMs as the run will have them then."""
        ios = {vm.name: vm.io for hv in self.hypervisors for vm in hv.vms}
        destinations = {hv.name: hv.io for hv in self.hypervisors}
        macs = vm_mac_table(self.hosts, self.hypervisors)
        vms = {vm.name: VmState(macs[vm.name], vm.guest, _model(vm.io)) for hv in self.hypervisors for vm in hv.vms}
        budgets: list[tuple[Optional[int], Optional[Fraction]]] = [(None, None)] * len(self.actions)
        in_time = sorted(range(len(self.actions)), key=lambda index: self.actions[index][0])  # stable, as a run
        for index in in_time:
            action = self.actions[index][1]
            budgets[index] = action.frame_budget(vms)
            moved = action.moves()
            if moved is not None and moved[0] in vms and moved[1] in destinations:
                vm, target = moved
                vms[vm] = replace(vms[vm], io_model=_model(io_after_move(ios[vm], destinations[target])))
        return budgets


def _model(io: Optional[IoSpec]) -> str:
    return "none" if io is None else io.model


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
