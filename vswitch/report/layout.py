"""The topology diagram's layout, in pure Python: one cluster per switch, the switch on top and the machines
cabled to it below in rows (in file order, wrapped at ``MAX_CLUSTER_WIDTH``), clusters side by side. Cables
from a switch to its first row are straight; to lower rows they run down a bus on the cluster's left edge and
along the channel above their row, so that no cable crosses a box. Boxes never overlap: each row is placed left
to right with a gap, and rows are stacked below the tallest box of the row above.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GAP_X = 36  # between grid columns and between clusters
GAP_Y = 70  # between grid rows: the channel cables run along
SWITCH_GAP = 90  # between a switch and its grid: room for the cables' fan and port labels
MARGIN = 24
MAX_CLUSTER_WIDTH = 1400  # a cluster's grid takes as many columns as fit in this
ARC_ROOM = 80  # above the switches, when cables join switches (arcs)

Point = tuple[float, float]


@dataclass
class Box:
    """A top-level node to place; ``is_switch`` boxes head clusters, the others go into one (``home``)."""

    name: str
    width: float
    height: float
    is_switch: bool
    x: float = 0.0
    y: float = 0.0
    home: str = ""  # the switch whose cluster holds this box ("" : a cluster of its own)
    row: int = 0  # row in its cluster
    column_left: float = 0.0  # left edge of its cluster's rows (the bus to lower rows runs GAP_X / 2 left of it)


@dataclass
class Cluster:
    switch: Box | None
    members: list[Box] = field(default_factory=list)
    row_tops: list[float] = field(default_factory=list)


def place(boxes: list[Box], cables: list[tuple[str, str]]) -> tuple[float, float]:
    """Set ``x``, ``y`` (and grid data) of every box, given in file order; returns the drawing's size."""
    by_name = {box.name: box for box in boxes}
    clusters = _clusters(boxes, cables, by_name)
    x = float(MARGIN)
    height = 0.0
    for cluster in clusters:
        width, bottom = _place_cluster(cluster, x, float(MARGIN))
        x += width + GAP_X * 2
        height = max(height, bottom)
    if any(arcs(by_name[a], by_name[b]) for a, b in cables if a in by_name and b in by_name):
        for box in boxes:  # room above the top row for the arcs
            box.y += ARC_ROOM
        height += ARC_ROOM
    return x - GAP_X * 2 + MARGIN, height + MARGIN


def arcs(a: Box, b: Box) -> bool:
    """Whether the cable between ``a`` and ``b`` is drawn as an arc above them: it joins neither a switch to a
    box of its cluster nor a box to one further down."""
    if (a.is_switch and b.home == a.name) or (b.is_switch and a.home == b.name):
        return False
    return not (b.y > a.y + a.height or a.y > b.y + b.height)


def _clusters(boxes: list[Box], cables: list[tuple[str, str]], by_name: dict[str, Box]) -> list[Cluster]:
    clusters = {box.name: Cluster(box) for box in boxes if box.is_switch}
    for a, b in cables:  # a machine goes with the first switch it is cabled to
        for here, there in ((a, b), (b, a)):
            box, other = by_name.get(here), by_name.get(there)
            if box is not None and other is not None and not box.is_switch and other.is_switch and not box.home:
                box.home = there
    loose = Cluster(None)
    for box in boxes:
        if not box.is_switch:
            (clusters[box.home] if box.home else loose).members.append(box)
    return list(clusters.values()) + ([loose] if loose.members else [])


def _rows(members: list[Box]) -> list[list[Box]]:
    """``members`` cut into rows no wider than ``MAX_CLUSTER_WIDTH`` (a wider box gets a row of its own)."""
    rows: list[list[Box]] = []
    used = 0.0
    for box in members:
        if rows and used + GAP_X + box.width <= MAX_CLUSTER_WIDTH:
            rows[-1].append(box)
            used += GAP_X + box.width
        else:
            rows.append([box])
            used = box.width
    return rows


def _place_cluster(cluster: Cluster, left: float, top: float) -> tuple[float, float]:
    """Place one cluster with its left edge at ``left``; returns its width and its bottom. Its rows are centred
    under the switch; the bus to the lower rows runs down its left edge."""
    rows = _rows(cluster.members)
    row_widths = [sum(b.width for b in row) + GAP_X * (len(row) - 1) for row in rows]
    switch = cluster.switch
    inner = max(row_widths + [switch.width if switch else 0.0])
    bus = GAP_X if len(rows) > 1 else 0.0  # room for the bus left of the rows
    width = inner + bus
    y = top
    if switch is not None:
        switch.x, switch.y = left + bus + (inner - switch.width) / 2, top
        y = top + switch.height + SWITCH_GAP
    for index, (row, row_width) in enumerate(zip(rows, row_widths)):
        x = left + bus + (inner - row_width) / 2
        cluster.row_tops.append(y)
        for box in row:
            box.x, box.y, box.row, box.column_left = x, y, index, left + bus
            x += box.width + GAP_X
        y += max(b.height for b in row) + GAP_Y
    bottom = y - GAP_Y if rows else (switch.y + switch.height if switch else top)
    return width, bottom


def route(switch: Box, start: Point, target: Box, end: Point) -> list[Point]:
    """The points of a cable from ``start`` on the bottom of its cluster's ``switch`` to ``end`` on top of
    ``target``: straight to the first row; to a lower row down the bus on the cluster's left edge."""
    if target.row == 0:
        return [start, end]
    channel = switch.y + switch.height + SWITCH_GAP / 2
    gutter = target.column_left - GAP_X / 2
    above = target.y - GAP_Y / 2
    return [start, (start[0], channel), (gutter, channel), (gutter, above), (end[0], above), end]


def overlaps(rects: list[tuple[float, float, float, float]]) -> list[tuple[int, int]]:
    """Pairs of indices of ``(x, y, width, height)`` rectangles that overlap (touching edges do not): the check
    the tests run on the emitted SVG and on the browser's boxes."""
    found = []
    ordered = sorted(range(len(rects)), key=lambda i: rects[i][0])
    for position, i in enumerate(ordered):
        x, y, w, h = rects[i]
        for j in ordered[position + 1:]:
            x2, y2, w2, h2 = rects[j]
            if x2 >= x + w:
                break
            if y < y2 + h2 and y2 < y + h:
                found.append((min(i, j), max(i, j)))
    return sorted(found)
