"""The topology as an SVG picture: switches, hosts, and hypervisors drawn as a box holding their adapter (with its
macvlan mode) or host bridge and their VMs (vNIC MAC, vendor, SR-IOV controls and I/O models as badges); cables with the port
name at each end, coloured by VLAN. Drawn from a network as the file builds it, before it runs.

Every node is a ``<g class="node">`` with ``data-node``, ``data-kind`` and ``data-box="x y width height"`` (the
rectangle drawn), so that a test can count the nodes and check that no two boxes overlap. Past ``COLLAPSE_OVER``
nodes, each hypervisor shows how many VMs it runs instead of one box per VM.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.units import format_duration
from ..l2.fdb import DEFAULT_AGEING_NS
from ..l2.hypervisor import Hypervisor
from ..l2.nic import NIC, VNIC
from ..l2.port import LinkEnd, Port
from ..l2.switch import LearningSwitch
from ..net.network import Network
from . import layout
from .svg import element, number, text, text_width, vlan_colour

COLLAPSE_OVER = 200  # more nodes than this (switches, hosts, hypervisors and VMs): VMs are counted, not drawn
VMS_PER_ROW = 4
TITLE = 15  # font sizes, px
LINE = 11.5
BADGE = 10.5
PAD = 10
LINE_GAP = 15
STYLE = """
.vs-topology { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; }
.vs-topology .box { stroke: #37474f; stroke-width: 1.5; }
.vs-topology .switch > .box { fill: #e3f2fd; }
.vs-topology .host > .box { fill: #f1f8e9; }
.vs-topology .hypervisor > .box { fill: #fff8e1; }
.vs-topology .vm > .box { fill: #ffffff; stroke-width: 1; }
.vs-topology .device { fill: #ffe0b2; stroke: #8d6e63; }
.vs-topology .title { font-size: 15px; font-weight: bold; fill: #263238; }
.vs-topology .line { font-size: 11.5px; fill: #37474f; }
.vs-topology .mac { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 11px; fill: #1a237e; }
.vs-topology .badge rect { stroke: none; }
.vs-topology .badge text { font-size: 10.5px; fill: #ffffff; }
.vs-topology .cable path { fill: none; stroke-width: 2.5; }
.vs-topology .port { font-size: 10.5px; fill: #263238; paint-order: stroke; stroke: #ffffff; stroke-width: 3px; }
"""


#: An I/O model's badge colour: by where the hypervisor intercepts (registers: red; split drivers: blues; an
#: assigned VF: green; system calls: grey).
IO_COLOURS = {"emulated": "#c62828", "rtl8139": "#c62828", "virtio": "#1565c0", "vhost": "#00838f", "xen": "#4527a0",
              "passthrough": "#2e7d32", "syscall": "#455a64"}


@dataclass
class Badge:
    label: str
    colour: str = "#546e7a"

    @property
    def width(self) -> float:
        return text_width(self.label, BADGE) + 10


@dataclass
class Item:
    """A box to draw: a title, lines of text (``mac`` lines in monospace), badges, and VMs inside (hypervisors)."""

    name: str
    kind: str
    lines: list[tuple[str, str]] = field(default_factory=list)  # (css class, text)
    badges: list[Badge] = field(default_factory=list)
    device: str = ""  # a hypervisor's adapter or host bridge, drawn as a bar
    vms: list["Item"] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0

    def measure(self) -> None:
        for vm in self.vms:
            vm.measure()
        widths = [text_width(self.name, TITLE)] + [text_width(t, LINE) for _, t in self.lines]
        widths.append(sum(b.width + 4 for b in self.badges))
        widths.append(text_width(self.device, LINE) + 2 * PAD if self.device else 0)
        self.width = max(widths) + 2 * PAD
        self.height = PAD + TITLE + 4 + LINE_GAP * len(self.lines) + (20 if self.badges else 0) + PAD
        if self.device:
            self.height += 30
        if self.vms:
            rows = _grid(self.vms)
            vm_width = max(v.width for v in self.vms)  # one column width: a tidy grid
            for vm in self.vms:
                vm.width = vm_width
            self.width = max(self.width, max(len(row) * vm_width + PAD * (len(row) + 1) for row in rows))
            self.height += sum(max(v.height for v in row) + PAD for row in rows)


def _grid(vms: list[Item]) -> list[list[Item]]:
    return [vms[i:i + VMS_PER_ROW] for i in range(0, len(vms), VMS_PER_ROW)]


# -- what to draw -----------------------------------------------------------------------------------------
def _switch_item(switch: LearningSwitch) -> Item:
    badges = []
    if switch.vlan_filtering:
        badges.append(Badge(f"vlan_filtering {switch.vlan_protocol}", "#283593"))
    if switch.table.limit is not None:
        badges.append(Badge(f"table {switch.table.limit} ({switch.table.policy.value})", "#6a1b9a"))
    if switch.table.ageing_ns != DEFAULT_AGEING_NS:
        badges.append(Badge(f"ageing {format_duration(switch.table.ageing_ns)}"))
    return Item(switch.name, "switch", [("line", "learning switch")], badges)


def _nic_lines(nic: NIC, with_name: bool = True) -> list[tuple[str, str]]:
    prefix = f"{nic.port.name} " if with_name else ""
    return [("mac", f"{prefix}{nic.mac}"), ("line", nic.mac.vendor)]


def _vm_item(vnic: VNIC) -> Item:
    vf = vnic.vf
    badges = []
    if vf.vlan is not None:
        badges.append(Badge(f"vlan {vf.describe_vlan()}", vlan_colour(vf.vlan)))
    if vnic.lower_vid:  # stacked on a host VLAN interface (a macvlan on eth0.N)
        badges.append(Badge(f"on {vnic.hypervisor}.{vnic.lower_vid}", vlan_colour(vnic.lower_vid)))
    if vf.spoofchk:
        badges.append(Badge("spoofchk", "#2e7d32"))
    if vf.trust is not None:
        badges.append(Badge(f"trust {'on' if vf.trust else 'off'}", "#ad1457" if vf.trust else "#546e7a"))
    if vf.state is not None:
        badges.append(Badge(f"state {vf.state}", "#c62828" if vf.state == "disable" else "#546e7a"))
    if vf.max_tx_rate_mbps:
        badges.append(Badge(f"{vf.max_tx_rate_mbps} Mbps", "#4e342e"))
    io = vnic.port.io
    if io is not None:  # its I/O model (docs/io-models.md): where the hypervisor intercepts its I/O
        posted = " posted" if io.model.name == "passthrough" and not io.model.irq[0].exit else ""
        badges.append(Badge(f"io {io.model.name}{posted}", IO_COLOURS.get(io.model.name, "#455a64")))
    lines = _nic_lines(vnic)
    if vnic.mode:
        lines.append(("line", f"mode {vnic.mode}"))
    return Item(vnic.name, "vm", lines, badges)


def _hypervisor_item(hv: Hypervisor, collapse: bool) -> Item:
    if hv.adapter is not None:
        device = f"adapter: macvlan {hv.mode}"
        badges = [Badge(f"MAC filter {hv.adapter.mac_filter_size}")] if hv.adapter.mac_filter_size else []
    else:
        device = "host bridge" + (", vlan_filtering" if hv.bridge is not None and hv.bridge.vlan_filtering else "")
        badges = []
    lines = [("mac", f"host {hv.host.mac}")]
    for vid, nic in sorted(hv.adapter.interfaces.items()) if hv.adapter is not None else ():  # eth0.N
        lines.append(("mac", f"{nic.full_name} {nic.mac}"))
        badges.append(Badge(f"{nic.full_name} (eth0.{vid})", vlan_colour(vid)))
    item = Item(hv.name, "hypervisor", lines, badges, device=device)
    vms = [hv.vms[name] for name in hv.vms]
    if collapse:
        item.lines.append(("line", f"{len(vms)} VM{'s' if len(vms) != 1 else ''} (collapsed: see the tables)"))
    else:
        item.vms = [_vm_item(vnic) for vnic in vms]
    return item


def items_of(net: Network) -> list[Item]:
    """The top-level boxes in file order: switches, hosts, hypervisors."""
    switches = [s for name, s in net.switches.items() if name not in net.hypervisors]  # not the host bridges
    total = len(switches) + len(net.hosts) + len(net.hypervisors) + len(net.vnics)
    collapse = total > COLLAPSE_OVER
    items = [_switch_item(s) for s in switches]
    for name, nics in net.hosts.items():
        lines = [line for nic in nics for line in _nic_lines(nic, with_name=True)]
        items.append(Item(name, "host", lines))
    items += [_hypervisor_item(hv, collapse) for hv in net.hypervisors.values()]
    return items


@dataclass
class Cable:
    ends: tuple[str, str]  # top-level node names
    labels: tuple[str, str]  # the port at each end
    colour: str
    name: str


def _far(port: Port) -> Port | None:
    peer = port.peer
    return peer.far if isinstance(peer, LinkEnd) else peer


def _port_label(port: Port) -> tuple[str, int | None, bool]:
    """A port's name with its VLANs on a VLAN-filtering switch; the access VLAN (None on a trunk or without
    VLANs) and whether it is a trunk."""
    node = port.node
    if isinstance(node, LearningSwitch) and node.vlan_filtering and hasattr(port, "vlans"):
        vlans = port.vlans
        tagged = sorted(vlans.vlans - vlans.untagged)
        if tagged:
            return f"{port.name} trunk {','.join(map(str, tagged))}", None, True
        if vlans.pvid is not None:
            return f"{port.name} vlan {vlans.pvid}", vlans.pvid, False
    return port.name, None, False


def cables_of(net: Network) -> list[Cable]:
    cables = []
    for link in net.links:
        a, b = link.ports
        label_a, vid_a, trunk_a = _port_label(a)
        label_b, vid_b, trunk_b = _port_label(b)
        vid = vid_a if vid_a is not None else vid_b
        colour = "#212121" if trunk_a or trunk_b else vlan_colour(vid)
        cables.append(Cable((a.node.name, b.node.name), (label_a, label_b), colour, link.name))
    return cables


# -- drawing -----------------------------------------------------------------------------------------------
def _badges(badges: list[Badge], x: float, y: float) -> str:
    parts = []
    for badge in badges:
        parts.append(element("g", element("rect", x=x, y=y, width=badge.width, height=16.0, rx=8, fill=badge.colour)
                             + text(x + 5, y + 12, badge.label), class_="badge"))
        x += badge.width + 4
    return "".join(parts)


def _draw_item(item: Item, x: float, y: float) -> str:
    box = f"{number(x)} {number(y)} {number(item.width)} {number(item.height)}"
    parts = [element("rect", class_="box", x=x, y=y, width=item.width, height=item.height, rx=8 if item.kind != "vm" else 4),
             text(x + PAD, y + PAD + TITLE - 2, item.name, class_="title")]
    line_y = y + PAD + TITLE + 4
    if item.device:
        parts.append(element("rect", class_="device", x=x + PAD, y=line_y + 2, width=item.width - 2 * PAD, height=22.0,
                             rx=4))
        parts.append(text(x + 2 * PAD, line_y + 17, item.device, class_="line"))
        line_y += 30
    for css, content in item.lines:
        parts.append(text(x + PAD, line_y + LINE_GAP - 3, content, class_=css))
        line_y += LINE_GAP
    if item.badges:
        parts.append(_badges(item.badges, x + PAD, line_y + 2))
        line_y += 20
    vm_y = line_y + PAD
    for row in _grid(item.vms):
        vm_x = x + PAD
        for vm in row:
            parts.append(_draw_item(vm, vm_x, vm_y))
            vm_x += vm.width + PAD
        vm_y += max(v.height for v in row) + PAD
    return element("g", "".join(parts), class_=f"node {item.kind}", data_node=item.name, data_kind=item.kind,
                   data_box=box)


def _ends(cables: list[Cable], boxes: dict[str, layout.Box]) -> dict[tuple[int, int], tuple[float, float, str]]:
    """Where each cable end meets its box, ``(cable index, end) -> (x, y, side)``: a switch's cables to its cluster
    leave its bottom edge, everything else meets the top edge (an arc joins two switches), or the bottom edge
    towards a box further down; the ends on one edge are spread along it in the order of where they head."""
    sides: dict[tuple[str, str], list[tuple[float, int, int]]] = {}
    for index, cable in enumerate(cables):
        for end in (0, 1):
            here, there = boxes[cable.ends[end]], boxes[cable.ends[1 - end]]
            if here.is_switch and there.home == here.name:
                side, heading = "bottom", there.x + there.width / 2 if there.row == 0 else there.column_left
            elif not layout.arcs(here, there) and there.y > here.y + here.height:
                side, heading = "bottom", there.x + there.width / 2
            else:
                side, heading = "top", there.x + there.width / 2
            sides.setdefault((here.name, side), []).append((heading, index, end))
    points = {}
    for (name, side), ends in sides.items():
        box = boxes[name]
        ends.sort()
        for position, (_, index, end) in enumerate(ends):
            x = box.x + box.width * (position + 1) / (len(ends) + 1)
            points[(index, end)] = (x, box.y + box.height if side == "bottom" else box.y, side)
    return points


def _path(cable: Cable, a: tuple[float, float, str], b: tuple[float, float, str], boxes: dict[str, layout.Box]) -> str:
    (xa, ya, side_a), (xb, yb, side_b) = a, b
    if side_a == side_b == "top":  # two switches (or boxes of one row): an arc above them
        lift = min(float(layout.ARC_ROOM) - 10, 24 + abs(xb - xa) / 6)
        top = min(ya, yb) - lift
        return (f"M{number(xa)},{number(ya)} C{number(xa)},{number(top)} {number(xb)},{number(top)} "
                f"{number(xb)},{number(yb)}")
    first, second = boxes[cable.ends[0]], boxes[cable.ends[1]]
    if first.is_switch and second.home == first.name:
        points = layout.route(first, (xa, ya), second, (xb, yb))
    elif second.is_switch and first.home == second.name:
        points = layout.route(second, (xb, yb), first, (xa, ya))
    else:
        points = [(xa, ya), (xb, yb)]
    return "M" + " L".join(f"{number(x)},{number(y)}" for x, y in points)


def _draw_cable(cable: Cable, a: tuple[float, float, str], b: tuple[float, float, str],
                boxes: dict[str, layout.Box], spacing: dict[str, float]) -> str:
    parts = [element("path", element("title", f"{cable.labels[0]} -- {cable.labels[1]}"),
                     d=_path(cable, a, b, boxes), stroke=cable.colour)]
    for (x, y, side), label, node in ((a, cable.labels[0], cable.ends[0]), (b, cable.labels[1], cable.ends[1])):
        if spacing[node] < text_width(label, BADGE) + 6:
            continue  # too many cables on this edge to label each: the tables name the ports
        parts.append(text(x + 3, y + (13 if side == "bottom" else -5), label, class_="port"))
    return element("g", "".join(parts), class_="cable", data_link=cable.name)


def render_svg(net: Network, title: str) -> str:
    """The topology of ``net`` as one ``<svg>`` element, with its own style (it stands alone as a file)."""
    items = items_of(net)
    for item in items:
        item.measure()
    names = {item.name for item in items}
    cables = [c for c in cables_of(net) if c.ends[0] in names and c.ends[1] in names and c.ends[0] != c.ends[1]]
    degree: dict[str, int] = {}
    widest: dict[str, float] = {}  # the widest label of a cable end of each node
    for cable in cables:
        for end, label in zip(cable.ends, cable.labels):
            degree[end] = degree.get(end, 0) + 1
            widest[end] = max(widest.get(end, 0.0), text_width(label, BADGE) + 8)
    for item in items:  # a switch is wide enough to label each of its cables, up to a cluster's width
        if item.kind == "switch":
            room = (degree.get(item.name, 0) + 1) * widest.get(item.name, 0.0)
            item.width = min(max(item.width, room), layout.MAX_CLUSTER_WIDTH)
    boxes = {i.name: layout.Box(i.name, i.width, i.height, i.kind == "switch") for i in items}
    width, height = layout.place(list(boxes.values()), [c.ends for c in cables])
    points = _ends(cables, boxes)
    spacing = {box.name: box.width / (degree.get(box.name, 0) + 1) for box in boxes.values()}
    drawn_cables = "".join(_draw_cable(c, points[(i, 0)], points[(i, 1)], boxes, spacing)
                           for i, c in enumerate(cables))
    drawn_items = "".join(_draw_item(item, boxes[item.name].x, boxes[item.name].y) for item in items)
    content = (element("title", f"topology of {title}") + element("style", STYLE)
               + element("g", drawn_cables, class_="cables") + element("g", drawn_items, class_="nodes"))
    return element("svg", content, xmlns="http://www.w3.org/2000/svg", class_="vs-topology",
                   viewBox=f"0 0 {number(width)} {number(height)}", width=float(width), height=float(height),
                   role="img", aria_label=f"topology of {title}")


def node_count(net: Network) -> dict[str, Any]:
    """How many boxes of each kind ``render_svg`` draws (VMs: 0 when collapsed)."""
    items = items_of(net)
    return {"switch": sum(i.kind == "switch" for i in items), "host": sum(i.kind == "host" for i in items),
            "hypervisor": sum(i.kind == "hypervisor" for i in items), "vm": sum(len(i.vms) for i in items)}
