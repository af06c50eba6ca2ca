"""Mermaid text for people who paste diagrams into docs: the topology as a ``flowchart`` (a hypervisor is a
subgraph holding its VMs) and the frame ladder as a ``sequenceDiagram`` (the same arrows as the HTML ladder)."""

from __future__ import annotations

import re
from typing import Any

from ..net.network import Network
from .diagram import cables_of, items_of
from .ladder import LadderRecorder, arrows_of, frame_labels, lane_order, next_lanes, _short


def _id(name: str) -> str:
    """A Mermaid node id for a vswitch name (Mermaid ids take letters, digits and underscores)."""
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def _label(text: str) -> str:
    return text.replace('"', "'")


def topology_mermaid(net: Network) -> str:
    lines = ["flowchart TB"]
    for item in items_of(net):
        details = "<br/>".join(_label(t) for _, t in item.lines[:2])
        if item.kind == "hypervisor":
            details = _label(item.lines[0][1])  # its own MAC; each VLAN interface is a node of its own
            lines.append(f'  subgraph {_id(item.name)}_box["{_label(item.name)}: {_label(item.device)}"]')
            lines.append(f'    {_id(item.name)}["{_label(item.name)}<br/>{details}"]')
            adapter = net.hypervisors[item.name].adapter
            for vid, nic in sorted(adapter.interfaces.items()) if adapter is not None else ():  # eth0.N
                lines.append(f'    {_id(f"{item.name}.vlan{vid}")}["{nic.full_name} (eth0.{vid})<br/>{nic.mac}"]')
                lines.append(f'    {_id(item.name)} --- {_id(f"{item.name}.vlan{vid}")}')
            for vm in item.vms:
                vm_details = "<br/>".join(_label(t) for _, t in vm.lines[:2])
                lines.append(f'    {_id(vm.name)}(["{_label(vm.name)}<br/>{vm_details}"])')
                vid = net.vnics[vm.name].lower_vid  # stacked on eth0.N: drawn under it
                lines.append(f'    {_id(f"{item.name}.vlan{vid}" if vid else item.name)} --- {_id(vm.name)}')
            lines.append("  end")
        elif item.kind == "switch":
            lines.append(f'  {_id(item.name)}[["{_label(item.name)}<br/>learning switch"]]')
        else:
            lines.append(f'  {_id(item.name)}["{_label(item.name)}<br/>{details}"]')
    for cable in cables_of(net):
        a, b = cable.ends
        lines.append(f'  {_id(a)} ---|"{_label(cable.labels[0])} - {_label(cable.labels[1])}"| {_id(b)}')
    return "\n".join(lines) + "\n"


def ladder_mermaid(net: Network, recorder: LadderRecorder, result: Any) -> str:
    """The ladder's arrows as a sequence diagram, in time order; a drop with no arrow is a note."""
    frames = recorder.hops()
    arrows, _ = arrows_of(frames, next_lanes(net))
    names = frame_labels(result.frames, list(frames)) if result is not None else {}
    lines = ["sequenceDiagram"]
    for lane in lane_order(arrows, []):
        lines.append(f"  participant {_id(lane)} as {_label(lane)}")
    for arrow in arrows:
        label = f"#{arrow.frame_id}" + (f" {names[arrow.frame_id]}" if arrow.frame_id in names else "")
        if arrow.source == arrow.target:
            lines.append(f"  Note over {_id(arrow.source)}: {label} {_short(arrow.outcome)}")
            continue
        end = f", then {_short(arrow.end)}" if arrow.end is not None else ""
        kind = "-x" if arrow.end is not None and arrow.end.__class__.__name__ == "DropReason" else "->>"
        lines.append(f"  {_id(arrow.source)}{kind}{_id(arrow.target)}: {label} {_short(arrow.outcome)}{end}")
    return "\n".join(lines) + "\n"
