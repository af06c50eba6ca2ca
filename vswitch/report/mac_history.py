"""The MAC tables over time, for the HTML report: every entry a switch learned, moved to another port or aged out
during the run, as a table of changes and as a chart (one row per MAC, a bar per port it was known on).

``MacHistory`` listens to the switches' tables from before the run (``ForwardingTable.listeners`` for learning
and moves, ``ageing_listeners`` for ageing), so it keeps only the changes, never a frame; it keeps the first
``CHANGES_KEPT`` of them and counts the rest. An entry ages at its last refresh plus the ageing time; the table
notices when it next looks at it, or at the end of the run (``finish``), and the change is put at that instant.
Static entries never change; an entry a full table evicted or a flush removed is not shown going.

Every bar of the chart is a ``<g class="entry">`` with ``data-switch``, ``data-vlan``, ``data-mac``,
``data-port``, ``data-from`` and ``data-to`` (ns), ``data-start`` (learned or moved) and ``data-end`` (moved,
aged, end: still there when the run ended, or removed: learned again after a flush or an eviction took it).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from ..core.mac import mac_str
from ..core.units import format_duration
from ..l2.fdb import AgeingListener, FdbListener
from ..l2.switch import LearningSwitch
from ..net.network import Network
from .svg import element, number, text, text_width

CHANGES_KEPT = 1000
CHART_ROWS = 40  # MACs drawn; the table lists every kept change
LABEL_COLUMN = 250
CHART_WIDTH = 720
ROW = 22
HEADER = 30
#: Bar colours by port (the switch's ports in name order cycle through them): Okabe and Ito, as VLANs are.
PORT_COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#7f6a00", "#999999")
STYLE = """
.vs-macs { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 11px; }
.vs-macs .mac { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; fill: #1a237e; }
.vs-macs .axis line { stroke: #b0bec5; }
.vs-macs .axis text { fill: #546e7a; }
.vs-macs .entry text { fill: #ffffff; font-size: 10.5px; }
.vs-macs .entry text.aged { fill: #b71c1c; font-weight: bold; font-size: 13px; }
"""


@dataclass(frozen=True)
class TableChange:
    """``mac`` (in ``vlan``: None without VLAN filtering) was ``what`` (learned, moved, aged) on ``switch``'s
    ``port`` at ``time_ns``; ``old``: the port it moved from."""

    time_ns: int
    order: int
    switch: str
    vlan: int | None
    mac: bytes
    what: str
    port: str
    old: str | None = None


class MacHistory:
    """The changes of every switch's MAC table; ``watch`` a network before its run, ``finish`` it after."""

    def __init__(self, kept: int = CHANGES_KEPT) -> None:
        self.kept = kept
        self.changes: list[TableChange] = []
        self.total = 0
        self.ports: dict[str, list[str]] = {}  # switch -> its ports, for the colours

    def watch(self, net: Network) -> None:
        for name, switch in sorted(net.switches.items()):
            if isinstance(switch, LearningSwitch):
                self.ports[name] = sorted(switch.ports)
                switch.table.listeners.append(self._learned_by(switch))
                switch.table.ageing_listeners.append(self._aged_by(switch))

    def finish(self, net: Network) -> None:
        """Find the entries aged out by the end of the run that no frame looked at since (the report's
        end-of-run table would drop them too)."""
        for name in self.ports:
            net.switches[name].table.expire(net.now)

    def _learned_by(self, switch: LearningSwitch) -> FdbListener:
        def learned(now: int, vlan: int, mac: bytes, port: str, old: str | None) -> None:
            self._add(now, switch, vlan, mac, "learned" if old is None else "moved", port, old)
        return learned

    def _aged_by(self, switch: LearningSwitch) -> AgeingListener:
        def aged(when: int, vlan: int, mac: bytes, port: str) -> None:
            self._add(when, switch, vlan, mac, "aged", port, None)
        return aged

    def _add(self, when: int, switch: LearningSwitch, vlan: int, mac: bytes, what: str, port: str,
             old: str | None) -> None:
        self.total += 1
        if len(self.changes) < self.kept:
            self.changes.append(TableChange(when, self.total, switch.name, vlan if switch.vlan_filtering else None,
                                            mac, what, port, old))

    def in_order(self) -> list[TableChange]:
        """The kept changes by time (an ageing is noticed late: it goes back to when it happened)."""
        return sorted(self.changes, key=lambda c: (c.time_ns, c.order))

    def rows(self) -> list[dict[str, object]]:
        """The table of changes: time, switch, VLAN (with VLAN filtering), MAC, change, port, from."""
        with_vlans = any(c.vlan is not None for c in self.changes)
        rows: list[dict[str, object]] = []
        for c in self.in_order():
            row: dict[str, object] = {"time": format_duration(c.time_ns), "switch": c.switch}
            if with_vlans:
                row["vlan"] = "-" if c.vlan is None else c.vlan
            row.update({"mac": mac_str(c.mac), "change": c.what, "port": c.port, "from": c.old or ""})
            rows.append(row)
        return rows

    def note(self) -> str:
        """What the table leaves out, if anything."""
        if self.total > len(self.changes):
            return f"<p>the first {len(self.changes):,} of {self.total:,} changes</p>"
        return ""

    # -- the chart ----------------------------------------------------------------------------------------
    def bars(self, end_ns: int) -> dict[tuple[str, int | None, bytes], list[tuple[int, int, str, str, str]]]:
        """Per (switch, VLAN, MAC), in the order first learned: (from, to, port, how it started, how it ended)."""
        bars: dict[tuple[str, int | None, bytes], list[tuple[int, int, str, str, str]]] = {}
        open_: dict[tuple[str, int | None, bytes], tuple[int, str, str]] = {}
        for c in self.in_order():
            key = (c.switch, c.vlan, c.mac)
            row = bars.setdefault(key, [])
            current = open_.pop(key, None)
            if current is not None:
                ended = "removed" if c.what == "learned" else c.what  # learned again: a flush or eviction removed it
                row.append((current[0], c.time_ns, current[1], current[2], ended))
            if c.what != "aged":
                open_[key] = (c.time_ns, c.port, c.what)
        for key, (start, port, how) in open_.items():
            bars[key].append((start, end_ns, port, how, "end"))
        return bars

    def chart(self, end_ns: int) -> str:
        """The MAC tables over time as one ``<svg>``: a row per MAC (the first ``CHART_ROWS``), a bar per port."""
        end_ns = max([end_ns, *(c.time_ns for c in self.changes)])
        bars = self.bars(end_ns)
        keys = list(bars)[:CHART_ROWS]
        if not keys:
            return ""
        span = max(end_ns, 1)
        scale = CHART_WIDTH / span
        height = HEADER + ROW * len(keys) + 10
        width = LABEL_COLUMN + CHART_WIDTH + 50  # room for the last tick's label
        parts = [element("title", "MAC tables over time"), element("style", STYLE), self._axis(span, height)]
        for row, key in enumerate(keys):
            switch, vlan, mac = key
            y = HEADER + row * ROW
            label = f"{switch}{'' if vlan is None else f' vlan {vlan}'}"
            parts.append(text(6, y + 15, label) + text(6 + text_width(label + " ", 11), y + 15, mac_str(mac),
                                                       class_="mac"))
            for start, stop, port, how, ended in bars[key]:
                parts.append(self._bar(switch, vlan, mac, start, stop, port, how, ended, scale, y))
        return element("svg", "".join(parts), xmlns="http://www.w3.org/2000/svg", class_="vs-macs",
                       viewBox=f"0 0 {number(width)} {number(height)}", width=float(width), height=float(height),
                       role="img", aria_label="MAC tables over time")

    def _axis(self, span: int, height: int) -> str:
        """Ticks at round instants (1, 2 or 5 times a power of ten ns), at most 6 of them."""
        step = round_step(span)
        ticks = []
        for at in range(0, span + 1, step):
            x = LABEL_COLUMN + CHART_WIDTH * at / span
            ticks.append(element("line", x1=float(x), y1=float(HEADER - 6), x2=float(x), y2=float(height - 6))
                         + text(x, HEADER - 10, format_duration(at), text_anchor="middle"))
        return element("g", "".join(ticks), class_="axis")

    def _bar(self, switch: str, vlan: int | None, mac: bytes, start: int, stop: int, port: str, how: str,
             ended: str, scale: float, y: int) -> str:
        x = LABEL_COLUMN + start * scale
        width = max(2.0, (stop - start) * scale)
        ports = self.ports.get(switch, [])
        colour = PORT_COLOURS[ports.index(port) % len(PORT_COLOURS)] if port in ports else PORT_COLOURS[-1]
        until = {"end": "still there at the end", "aged": "aged out", "moved": "moved",
                 "removed": "gone (flushed or evicted) before"}[ended]
        tip = (f"{switch} {mac_str(mac)}{'' if vlan is None else f' in VLAN {vlan}'} on {port}: {how} at "
               f"{format_duration(start)}, {until} at {format_duration(stop)}")
        inner = element("title", escape(tip)) + element("rect", x=float(x), y=float(y + 3), width=float(width),
                                                         height=16.0, rx=3, fill=colour)
        if text_width(port, 10.5) + 6 <= width:
            inner += text(x + 4, y + 15, port)
        if ended == "aged":
            inner += text(x + width + 2, y + 15, "×", class_="aged")
        return element("g", inner, class_="entry", data_switch=switch, data_vlan=vlan, data_mac=mac_str(mac),
                       data_port=port, data_from=start, data_to=stop, data_start=how, data_end=ended)


def round_step(span: int) -> int:
    """The smallest of 1, 2 or 5 times a power of ten (ns) that cuts ``span`` into at most 5 steps."""
    power = 1
    while True:
        for m in (1, 2, 5):
            if span // (m * power) <= 5:
                return m * power
        power *= 10
