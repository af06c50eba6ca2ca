"""The frame ladder: a sequence diagram of a run, one lane per device (host, VM, hypervisor, switch), time going
down, one arrow per hop of a copy, labelled with what the sending device decided, and what became of the copy at
its head (a green dot: delivered; a red cross: dropped, with the reason).

``LadderRecorder`` collects the hops before the run starts, through the trace's watching machinery
(``core/trace.py``): it watches the first ``FIRST_FRAMES`` frame ids and the first ``PER_NAME`` frames of each
name, so the report stays the same size however long the run is. Every arrow is a ``<g class="hop">`` with
``data-frame`` (the frame number ``vswitch explain FILE N`` takes), ``data-point`` (the port where the decision
was taken), ``data-to`` and ``data-t`` (virtual time, ns).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from html import escape

from ..core.reasons import DropReason, Verdict, describe
from ..core.trace import HopRecorder, TraceEvent
from ..core.units import format_duration
from ..l2.port import LinkEnd, Port
from ..net.network import Network
from ..scenario.context import FrameIds, ScenarioContext
from ..topology.scenario_reader import frame_names
from .mac_history import MacHistory
from .svg import element, number, text, text_width

FIRST_FRAMES = 200  # frame ids 1..this are drawn
PER_NAME = 10  # and the first frames of each name
MAX_NAMES = 50
MAX_ARROWS = 2000  # a frame that would pass this is counted in "N more" instead
ROW = 24
LANE_MIN = 120
TIME_COLUMN = 190
HEADER = 44
STYLE = """
.vs-ladder { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 11px; }
.vs-ladder .lane line { stroke: #b0bec5; stroke-dasharray: 4 3; }
.vs-ladder .lane text { font-size: 12.5px; font-weight: bold; fill: #263238; }
.vs-ladder .when { fill: #546e7a; font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 10.5px; }
.vs-ladder .hop line, .vs-ladder .hop path { stroke: #1565c0; stroke-width: 1.6; }
.vs-ladder .hop.flooded line { stroke: #ef6c00; }
.vs-ladder .hop.adapter path { stroke: #6a1b9a; }
.vs-ladder .hop.dropped path { stroke: #c62828; }
.vs-ladder .hop.adapter line { stroke: #6a1b9a; }
.vs-ladder .hop.dropped line { stroke: #c62828; }
.vs-ladder .hop text { font-size: 10.5px; fill: #263238; paint-order: stroke; stroke: #ffffff; stroke-width: 3px; }
.vs-ladder .drop { fill: #c62828; font-weight: bold; }
.vs-ladder .row:nth-child(even) rect.band { fill: #f5f7f8; }
"""
_FLOODS = (Verdict.FLOODED_UNKNOWN, Verdict.FLOODED_BROADCAST, Verdict.FLOODED_MULTICAST, Verdict.REPLICATED)
_ADAPTER = (Verdict.TO_VNIC, Verdict.TO_HOST, Verdict.BRIDGED, Verdict.REFLECTED_TO_SOURCE, Verdict.TO_UPLINK,
            Verdict.TO_PROMISCUOUS_VNIC, Verdict.TO_VLAN_INTERFACE)


class LadderRecorder:
    """Watches, from before the run, the frames the ladder draws; ``watch`` it on a runner, run, then ``hops()``.
    It watches the MAC tables' changes for the report too (``tables``, ``mac_history.py``)."""

    def __init__(self, first_frames: int = FIRST_FRAMES, per_name: int = PER_NAME) -> None:
        self.first = HopRecorder(first_frames)
        self.first_frames = first_frames
        self.per_name = per_name
        self.named: dict[str, HopRecorder] = {}
        self.tables = MacHistory()

    def watch(self, context: ScenarioContext) -> None:
        """Register on ``context`` (a ``ScenarioRunner`` not yet run)."""
        self.tables.watch(context.net)
        for frame_id in range(1, self.first_frames + 1):
            context.net.watch_frame(frame_id, (self.first,))
        for name in sorted(frame_names(list(context.spec.scenario)))[:MAX_NAMES]:
            recorder = self.named[name] = HopRecorder(self.per_name)
            context.watchers[name] = context.watchers.get(name, ()) + (recorder,)

    def hops(self) -> dict[int, list[TraceEvent]]:
        """Every recorded frame's hops, by frame id."""
        found = {frame_id: hops for frame_id, hops in self.first.hops.items() if hops}
        for recorder in self.named.values():
            for frame_id, hops in recorder.hops.items():
                found.setdefault(frame_id, hops)
        return dict(sorted(found.items()))


@dataclass
class Arrow:
    """One hop drawn: a copy leaving ``source`` lane for ``target`` (the same lane: a copy dropped where it was)."""

    time_ns: int
    frame_id: int
    order: int
    source: str
    target: str
    point: str  # the port where the decision was taken
    to: str  # the output port (or the dropped copy's port)
    outcome: Verdict | DropReason
    note: str = ""
    end: Verdict | DropReason | None = None  # what became of the copy at the head, if it ended there


def lane_of(port_name: str) -> str:
    """The device a port belongs to: the text before the first dot (``sw1.p2`` -> ``sw1``)."""
    return port_name.split(".", 1)[0]


def next_lanes(net: Network) -> dict[tuple[str, str], str]:
    """``(device, output label) -> device at the far end``, for every port and internal wire of ``net``."""
    ports: list[Port] = list(net.ports.values()) + list(net.removed_ports)
    for switch in net.switches.values():
        ports += switch.ports.values()
    found: dict[tuple[str, str], str] = {}
    seen: set[int] = set()
    while ports:
        port = ports.pop()
        if id(port) in seen:
            continue
        seen.add(id(port))
        peer = port.peer
        far = peer.far if isinstance(peer, LinkEnd) else peer
        if far is not None:
            found[(port.node.name, port.label)] = far.node.name
            ports.append(far)
    return found


def arrows_of(frames: dict[int, list[TraceEvent]], lanes: dict[tuple[str, str], str]) -> tuple[list[Arrow], int]:
    """The arrows of ``frames`` (at most ``MAX_ARROWS``: whole frames), sorted by time; and how many frames did
    not fit."""
    arrows: list[Arrow] = []
    left_out = 0
    for frame_id, hops in frames.items():
        mine = _frame_arrows(frame_id, hops, lanes)
        if len(arrows) + len(mine) > MAX_ARROWS:
            left_out += 1
            continue
        arrows += mine
    arrows.sort(key=lambda a: (a.time_ns, a.frame_id, a.order))
    return arrows, left_out


def _frame_arrows(frame_id: int, hops: list[TraceEvent], lanes: dict[tuple[str, str], str]) -> list[Arrow]:
    arrows: list[Arrow] = []
    pending: dict[str, list[Arrow]] = {}  # arrows whose copy has not arrived yet, by target lane
    for hop in hops:
        here = lane_of(hop.port)
        waiting = pending.get(here)
        incoming = waiting.pop(0) if waiting else None
        if incoming is None and hop.is_drop:  # dropped on its way out (a vNIC's SR-IOV checks): it never arrived
            incoming = _leaving(pending, here)
        if not hop.outputs:  # the copy ends here
            if incoming is not None:
                incoming.end = hop.outcome
            elif hop.is_drop:
                arrows.append(Arrow(hop.time_ns, frame_id, len(arrows), here, here, hop.port, hop.port, hop.outcome,
                                    end=hop.outcome))
            continue
        for output in hop.outputs:
            if hop.outcome is Verdict.TRANSMITTED:
                target = lane_of(output)
            else:
                target = lanes.get((here, output), lane_of(output))
            arrow = Arrow(hop.time_ns, frame_id, len(arrows), here, target, hop.port, output, hop.outcome, hop.note)
            arrows.append(arrow)
            pending.setdefault(target, []).append(arrow)
    return arrows


def _leaving(pending: dict[str, list[Arrow]], lane: str) -> Arrow | None:
    """The first arrow still in flight that left ``lane`` (taken out of ``pending``), if any."""
    for waiting in pending.values():
        for index, arrow in enumerate(waiting):
            if arrow.source == lane:
                return waiting.pop(index)
    return None


def _label(arrow: Arrow) -> str:
    """The text above an arrow: the sender's verdict, what it learned, and a drop at the head."""
    label = _short(arrow.outcome) + (f" · {arrow.note}" if arrow.note else "")
    if isinstance(arrow.end, DropReason):
        label += f" → {_short(arrow.end)}"
    return label


def _short(outcome: Verdict | DropReason) -> str:
    """The label of an arrow: ``forwarded``, ``flooded: broadcast``, ``to uplink``...; drops by their enum name."""
    if isinstance(outcome, DropReason):
        return f"dropped: {outcome.name.lower()}"
    if outcome in _FLOODS[:3]:
        return outcome.value.replace(" unicast", "")
    return outcome.name.lower().replace("_", " ")


def lane_order(arrows: list[Arrow], preferred: list[str]) -> list[str]:
    """Lanes in ``preferred`` order (the topology's), then any other in order of first appearance."""
    used = {a.source for a in arrows} | {a.target for a in arrows}
    order = [name for name in preferred if name in used]
    for arrow in arrows:
        for name in (arrow.source, arrow.target):
            if name not in order:
                order.append(name)
    return order


def render_ladder(arrows: list[Arrow], lanes: list[str], names: dict[int, str], more: int) -> str:
    """The ladder as an ``<svg>``; ``names`` labels frame ids, ``more`` is the count of frames not drawn."""
    gap = max([LANE_MIN] + [text_width(name, 12.5) + 16 for name in lanes])  # a row holds one arrow: its label
    # may run past the lanes it joins
    x_of = {name: TIME_COLUMN + gap / 2 + i * gap for i, name in enumerate(lanes)}
    width = TIME_COLUMN + gap * max(1, len(lanes)) + 60
    width = max(width, TIME_COLUMN + max((text_width(_label(a), 10.5) for a in arrows), default=0) + 20)
    height = HEADER + ROW * (len(arrows) + 1) + (ROW if more else 0)
    parts = [element("defs", "".join(
        element("marker", element("path", d="M0,0 L8,4 L0,8 z", fill=colour), id=f"vs-head-{kind}",
                markerWidth=8, markerHeight=8, refX=8, refY=4, orient="auto")
        for kind, colour in (("fwd", "#1565c0"), ("flooded", "#ef6c00"), ("adapter", "#6a1b9a"),
                             ("dropped", "#c62828"))))]
    for name, x in x_of.items():
        parts.append(element("g", text(x, 22, name, text_anchor="middle")
                             + element("line", x1=x, y1=30.0, x2=x, y2=float(height)), class_="lane", data_lane=name))
    rows = []
    for index, arrow in enumerate(arrows):
        rows.append(_row(arrow, HEADER + ROW * index, x_of, names.get(arrow.frame_id, ""), width))
    parts.append(element("g", "".join(rows), class_="rows"))
    if more:
        parts.append(text(12, height - 8, f"{more:,} more frames not drawn (the first {FIRST_FRAMES} frames and the "
                          f"first {PER_NAME} of each name are)", class_="more"))
    content = element("title", "frame ladder") + element("style", STYLE) + "".join(parts)
    return element("svg", content, xmlns="http://www.w3.org/2000/svg", class_="vs-ladder",
                   viewBox=f"0 0 {number(width)} {number(height)}", width=float(width), height=float(height),
                   role="img", aria_label="frame ladder")


def _row(arrow: Arrow, y: float, x_of: dict[str, float], name: str, width: float) -> str:
    x1, x2 = x_of[arrow.source], x_of[arrow.target]
    mid = y + ROW / 2 + 4
    label = f"#{arrow.frame_id}" + (f" {name}" if name else "")
    when = text(8, mid, f"{format_duration(arrow.time_ns):>9} {label}"[:30], class_="when")
    band = element("rect", class_="band", x=0.0, y=float(y), width=float(width), height=float(ROW), fill="none")
    full = describe(arrow.outcome) + (f" ({arrow.note})" if arrow.note else "")
    ending = ""
    if arrow.end is not None:
        ending = f"; then {describe(arrow.end)}"
    title = element("title", escape(f"frame {arrow.frame_id} at {format_duration(arrow.time_ns)}: {arrow.point}: "
                                    f"{full} -> {arrow.to}{ending}"))
    if arrow.source == arrow.target and arrow.end is arrow.outcome:  # dropped where it was, with no hop before
        body = (text(x1, mid + 1, "✕", class_="drop", text_anchor="middle")
                + text(x1 + 10, mid, _short(arrow.outcome), class_="drop"))
        kind = "dropped"
    elif arrow.source == arrow.target:  # inside one device (a hypervisor's adapter to its own host stack)
        kind = "dropped" if isinstance(arrow.end, DropReason) else "adapter"
        body = element("path", d=f"M{number(x1)},{number(mid - 7)} h22 v10 h-20", fill="none",
                       marker_end=f"url(#vs-head-{kind})")
        if isinstance(arrow.end, DropReason):
            body += text(x1 + 3, mid + 4, "✕", class_="drop", text_anchor="middle")
        elif arrow.end is Verdict.DELIVERED:
            body += element("circle", cx=x1 + 5, cy=float(mid + 3), r=4.0, fill="#2e7d32")
        body += text(x1 + 28, mid, _label(arrow), class_="drop" if isinstance(arrow.end, DropReason) else None)
    else:
        kind = ("dropped" if isinstance(arrow.end, DropReason) else "flooded" if arrow.outcome in _FLOODS
                else "adapter" if arrow.outcome in _ADAPTER else "fwd")
        direction = 1 if x2 > x1 else -1
        body = element("line", x1=x1, y1=float(mid), x2=x2 - direction * 2, y2=float(mid),
                       marker_end=f"url(#vs-head-{kind})")
        label = _label(arrow)
        half = text_width(label, 10.5) / 2
        centre = min(max((x1 + x2) / 2, TIME_COLUMN + half), width - half - 4)
        body += text(centre, mid - 4, label, text_anchor="middle",
                     class_="drop" if isinstance(arrow.end, DropReason) else None)
        if isinstance(arrow.end, DropReason):
            body += text(x2 + 3 * direction, mid + 4, "✕", class_="drop", text_anchor="middle")
        elif arrow.end is Verdict.DELIVERED:
            body += element("circle", cx=x2 + 5 * direction, cy=float(mid), r=4.0, fill="#2e7d32")
    css = {"fwd": "hop", "flooded": "hop flooded", "adapter": "hop adapter", "dropped": "hop dropped"}[kind]
    hop = element("g", title + body, class_=css, data_frame=arrow.frame_id, data_point=arrow.point,
                  data_to=arrow.to, data_t=arrow.time_ns, data_outcome=_short(arrow.outcome),
                  data_end=None if arrow.end is None else _short(arrow.end))
    return element("g", band + when + hop, class_="row")


def frame_labels(frames: dict[str, FrameIds], ids: list[int]) -> dict[int, str]:
    """The name each of ``ids`` was sent under (``RunResult.frames``), where it has one (a frame id has at most
    one name)."""
    runs = sorted((first, last, name) for name, found in frames.items() for first, last in found.runs())
    starts = [first for first, _, _ in runs]
    labels = {}
    for frame_id in ids:
        at = bisect.bisect_right(starts, frame_id) - 1
        if at >= 0 and frame_id <= runs[at][1]:
            labels[frame_id] = runs[at][2]
    return labels
