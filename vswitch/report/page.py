"""The HTML report: one self-contained file (inline SVG and CSS, no script, nothing fetched) holding the topology,
the frame ladder and the run's tables, with relative links to the capture files. Same inputs, same bytes: nothing
in it comes from the wall clock, the machine or the order of a hash.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

from ..net.network import Network
from ..scenario.io_report import io_rows
from ..scenario.ipv6_report import ipv6_rows, neighbour_rows
from ..scenario.report import (arp_rows, check_rows, counter_rows, demux_rows, guest_stacks, mac_table_rows,
                               session_rows, stack_rows, summary, summary_line)
from ..scenario.runner import RunResult
from ..scenario.security_report import security_tables
from ..scenario.show import machine_rows, port_rows
from ..topology.spec import TopologySpec
from .diagram import render_svg
from .ladder import LadderRecorder, arrows_of, frame_labels, lane_order, next_lanes, render_ladder
from .svg import table

CSS = """
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; margin: 24px; color: #263238;
       background: #ffffff; }
h1 { font-size: 22px; margin: 0 0 4px 0; }
h2 { font-size: 17px; margin: 28px 0 8px 0; border-bottom: 2px solid #cfd8dc; padding-bottom: 3px; }
p.summary { font-size: 14px; }
nav a { margin-right: 14px; }
.scroll { overflow: auto; max-width: 100%; }
.figure { overflow: auto; max-height: 80vh; border: 1px solid #cfd8dc; border-radius: 6px; }
table { border-collapse: collapse; font-size: 12.5px; }
th, td { border: 1px solid #cfd8dc; padding: 3px 8px; text-align: left; white-space: nowrap; }
th { background: #eceff1; }
td.pass { color: #1b5e20; font-weight: bold; }
td.fail { color: #b71c1c; font-weight: bold; }
.legend span { display: inline-block; margin-right: 16px; font-size: 12.5px; }
.swatch { display: inline-block; width: 22px; height: 3px; vertical-align: middle; margin-right: 5px; }
"""
MAC_LEGEND = ('<p class="legend"><span>one row per MAC a switch learned, one bar per port it was known on (its '
              'colour: the port); hover for when and how it came and went</span><span><b style="color:#b71c1c">×'
              '</b> aged out</span></p>')
LADDER_LEGEND = ('<p class="legend"><span><i class="swatch" style="background:#1565c0"></i>forwarded / transmitted'
                 '</span><span><i class="swatch" style="background:#ef6c00"></i>flooded or replicated</span>'
                 '<span><i class="swatch" style="background:#6a1b9a"></i>inside an adapter</span>'
                 '<span><i class="swatch" style="background:#c62828"></i>copy dropped at the head</span>'
                 '<span>● delivered</span></p>')


def _page(title: str, sections: list[tuple[str, str, str]], lead: str) -> str:
    nav = "".join(f'<a href="#{anchor}">{escape(name)}</a>' for anchor, name, _ in sections)
    body = "".join(html for _, _, html in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width\"><title>{escape(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{escape(title)}</h1>{lead}<nav>{nav}</nav>{body}"
            "<p><small>written by vswitch; docs/report.md says how to read each part</small></p></body></html>\n")


def _figure(anchor: str, title: str, svg: str, extra: str = "") -> tuple[str, str, str]:
    return anchor, title, f'<section id="{anchor}"><h2>{escape(title)}</h2>{extra}<div class="figure">{svg}</div></section>'


def _description(spec: TopologySpec) -> str:
    return f"<p>{escape(spec.description)}</p>" if spec.description else ""


def topology_html(spec: TopologySpec, net: Network) -> str:
    """``vswitch show FILE --html``: the topology picture and its port and interface tables."""
    sections = [_figure("topology", "Topology", render_svg(net, spec.name))]
    for anchor, title, rows in (("ports", "Switch ports", port_rows(net)),
                                ("interfaces", "Interfaces", machine_rows(net))):
        if rows:
            sections.append((anchor, title, table(title, rows, anchor=anchor)))
    lead = _description(spec) + (f"<p class=\"summary\">{len(spec.scenario)} scenario actions, "
                                 f"{len(spec.expectations)} expectations (not run: <code>vswitch run --html</code> "
                                 "adds the frame ladder and the tables of a run)</p>")
    return _page(f"{spec.name}: topology", sections, lead)


def run_html(spec: TopologySpec, built: Network, net: Network, result: RunResult, recorder: LadderRecorder,
             report_path: Path) -> str:
    """``vswitch run FILE --html``: ``built`` is the network as the file builds it (the picture), ``net`` the one
    that ran, ``recorder`` the ladder's watcher registered before the run."""
    facts = summary(net, result)
    lead = _description(spec) + f'<p class="summary">{escape(summary_line(facts))}</p>'
    sections = [_figure("topology", "Topology", render_svg(built, spec.name))]
    frames = recorder.hops()
    arrows, too_big = arrows_of(frames, next_lanes(net))
    lanes = lane_order(arrows, _device_order(built))
    drawn = len(frames) - too_big
    more = max(0, net.stats.injected - drawn)
    sections.append(_figure("ladder", f"Frame ladder ({drawn} of {net.stats.injected:,} frames)",
                            render_ladder(arrows, lanes, frame_labels(result.frames, list(frames)), more),
                            LADDER_LEGEND))
    history = recorder.tables
    history.finish(net)
    drops = [{"reason": reason, "copies": count} for reason, count in facts["drops_by_reason"].items()]
    sections.append(("expectations", "Expectations", table("Expectations", check_rows(result),
                                                           anchor="expectations")))
    chart = history.chart(net.now)
    if chart:
        sections.append(_figure("mac-history", "MAC tables over time", chart, MAC_LEGEND))
    tables = [("mac-changes", "MAC table changes", history.rows()),
              ("mac-tables", "MAC tables at the end", mac_table_rows(net)),
              ("io", "I/O costs (per VM)", io_rows(net)),
              ("adapters", "Adapter demultiplexing", demux_rows(net)),
              *((key, title, rows) for key, title, rows in security_tables(net)),
              ("counters", "Interface counters", counter_rows(net)), ("drops", "Drops by reason", drops),
              ("guests", "Guest stacks", stack_rows(net)), ("arp", "ARP caches", arp_rows(net)),
              ("ipv6", "IPv6", ipv6_rows(guest_stacks(net))),
              ("neighbours", "IPv6 neighbour caches", neighbour_rows(guest_stacks(net), net.now)),
              ("sessions", "Pings, arpings and UDP senders", session_rows(result)),
              ("captures", "Capture files", _capture_rows(net, report_path))]
    for anchor, title, rows in tables:
        if rows:
            html = table(title, rows, anchor=anchor, links=("file",))
            if anchor == "mac-changes":
                html = html.replace("</section>", history.note() + "</section>")
            sections.append((anchor, title, html))
    return _page(f"{spec.name}: run report", [s for s in sections if s[2]], lead)


def _device_order(net: Network) -> list[str]:
    """Ladder lanes in a reading order, switches in the middle: the first half of the machines (hosts, then each
    hypervisor's VMs before it), the switches, the other half (each hypervisor before its VMs)."""
    groups = [[name] for name in net.hosts] + [[*hv.vms, name] for name, hv in net.hypervisors.items()]
    half = (len(groups) + 1) // 2
    order = [name for group in groups[:half] for name in group]
    order += [name for name in net.switches if name not in net.hypervisors]
    return order + [name for group in groups[half:] for name in group[-1:] + group[:-1]]


def _capture_rows(net: Network, report_path: Path) -> list[dict[str, object]]:
    folder = report_path.resolve().parent
    rows: list[dict[str, object]] = []
    for path in net.captures.files:
        rows.append({"file": Path(os.path.relpath(Path(path).resolve(), folder)).as_posix(),
                     "format": "pcapng (every point)" if str(path).endswith(".pcapng") else "pcap"})
    return rows
