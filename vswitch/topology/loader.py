"""Read a YAML topology file into a frozen ``TopologySpec``, reporting every mistake with file, line and field.

The format is documented key by key in ``docs/topology.md``. Scenario actions and expectations are read by
``scenario_reader.py``; this module reads the network itself and checks names across sections.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import replace
from pathlib import Path

from ..core import checks
from ..core.errors import TopologyError
from ..core.units import format_duration, parse_duration, parse_rate
from ..io.models import MODEL_NAMES
from ..l2.adapter import MODES
from ..l2.fdb import DEFAULT_AGEING_NS
from ..l2.hypervisor import BACKENDS
from ..l2.port import DEFAULT_QUEUE_FRAMES
from ..l2.switch import PORT_FLAGS
from .bounds import check_devices, check_network
from .fields import (MAX_NAME_BYTES, capture_file, capture_parts, group_mac, mac_prefix, name_value,
                     topology_name, unicast_mac, virtual_time, where)
from .frame_expectations import FrameExpectation
from .guest_check import check_guests
from .guest_reader import read_guest
from .hostvlan_reader import read_host_vlans, read_on
from .impair_reader import read_impairments
from .io_reader import IoCheck, read_io
from .limits import Limits
from .live_reader import read_attach
from .located import Document, LocatedList, LocatedMap, Location, item_path
from .scenario_reader import ExpectAction, check_port_actions, frame_names, read_expectations, read_scenario
from .stp_reader import read_stp_port_keys, read_stp_switch_keys, stp_spec
from .security_reader import (read_hypervisor_keys, read_port_keys, read_static_vlan, read_switch_keys, read_vf,
                              switch_spec_keys)
from .spec import (ActionSpec, CaptureSpec, HostSpec, HostVlanSpec, HypervisorSpec, IoSpec, LinkSpec, NicSpec,
                   SwitchSpec, TopologySpec, VMSpec, Where)
from .yamlreader import MapReader, boolean, describe, integer_between, one_of, text
from .yamlsource import load_file, load_text
from .vxlan_reader import read_vxlan, vxlan_problems

DIRECTIONS = ("rx", "tx", "both")


def load_topology(path: str | os.PathLike, limits: Limits | None = None) -> TopologySpec:
    """Load and check a topology file; raise ``TopologyFileError`` listing every problem found (and
    ``TopologyError`` for a ``path`` or ``limits`` of the wrong type)."""
    return read_topology(load_file(checks.path(path, "load_topology: path"), _limits(limits, "load_topology")))


def load_topology_text(text: str | bytes, filename: str = "<string>", limits: Limits | None = None) -> TopologySpec:
    """``load_topology`` for YAML in a ``str`` (or UTF-8 ``bytes``); ``filename`` is only used in messages."""
    if not isinstance(text, (str, bytes)):
        raise TopologyError(f"load_topology_text: text must be a str (or UTF-8 bytes), not {checks.describe(text)}")
    name = checks.text(filename, "load_topology_text: filename")
    return read_topology(load_text(text, name, _limits(limits, "load_topology_text")))


def _limits(limits: object, what: str) -> Limits | None:
    return checks.optional_instance(limits, Limits, f"{what}: limits")


# -- sections -----------------------------------------------------------------------------------------
def read_topology(document: Document) -> TopologySpec:
    top = MapReader.of(document)
    check_devices(top)  # a file of 50 000 VMs stops here, before they are read
    name = top.take("name", topology_name, default=None)
    if "name" not in top.mapping:
        name = _name_from_file(document)
    description = top.take("description", text, default="")
    until = top.take("until", virtual_time(top), default=None)
    epoch = top.take("epoch", integer_between(0, 4_000_000_000), default=None)  # classic pcap: 32-bit seconds
    seed = top.take("seed", integer_between(0, 2**63 - 1), default=0)  # link impairments' draws
    switches = [_switch(r) for r in top.take_maps("switches", required=False)]
    if until is None and "until" not in top.mapping and any(sw.stp for sw in switches):  # hello BPDUs never stop
        top.error("switches", f"{', '.join(sw.name for sw in switches if sw.stp)} runs STP, whose hello timer never "
                  "stops: give the run an end, e.g. until: 60s")
    hosts = [_host(r) for r in top.take_maps("hosts", required=False)]
    hypervisors = [_hypervisor(r) for r in top.take_maps("hypervisors", required=False)]
    links = _links(top)
    captures, pcapng = _captures(top)
    scenario = read_scenario(top, hosts, hypervisors)
    expectations = read_expectations(top)
    top.finish()
    document.check()
    spec = TopologySpec(
        name=name, description=description, switches=tuple(switches), hosts=tuple(hosts),
        hypervisors=tuple(hypervisors), links=tuple(links), captures=tuple(captures), pcapng=pcapng,
        scenario=tuple(sorted(scenario, key=lambda a: a.at_ns)), expectations=tuple(expectations),
        until_ns=until, epoch_ns=None if epoch is None else epoch * 1_000_000_000, source=document.filename,
        seed=0 if seed is None else seed,
        warnings=tuple(_order_warnings(scenario) + _uncabled_warnings(hypervisors, links)))
    _check_names(spec, document)
    _check_io_expectations(spec, document)
    check_port_actions(spec, document)
    for place, message in vxlan_problems(spec):
        _report(document, place, message)
    check_network(spec, document)
    guest_warnings = check_guests(spec, document)
    document.check()
    return replace(spec, warnings=spec.warnings + tuple(guest_warnings)) if guest_warnings else spec


def _order_warnings(scenario: list[ActionSpec]) -> list[str]:
    """An item whose ``at`` is earlier than the item before it: it runs in time order, not where it is written."""
    warnings = []
    for before, step in zip(scenario, scenario[1:]):
        if step.at_ns < before.at_ns:
            warnings.append(f"{step.where}: at {format_duration(step.at_ns)} is earlier than the item before it "
                            f"({format_duration(before.at_ns)}, line {before.where.line}): items run in time order, "
                            "so it runs first; write the scenario in time order")
    return warnings


def _uncabled_warnings(hypervisors: list[HypervisorSpec], links: list[LinkSpec]) -> list[str]:
    """A hypervisor no link reaches: its VMs can reach only each other."""
    cabled = {end.split(".", 1)[0] for link in links for end in (link.a, link.b)}
    return [f"{hv.where}: hypervisor {hv.name} has no cable: its VMs reach only each other; link it, e.g. "
            f"[{hv.name}, sw1.p2]" for hv in hypervisors if hv.name not in cabled]


def _name_from_file(document: Document) -> str:
    """Without ``name:``, the file name without its extension, under the rules of ``name:``: it names the capture
    folder, so ``..yaml`` must not make it ``pcaps/.`` nor a name with ``;`` or ESC reach a path or a terminal."""
    if document.filename == "<string>":
        return "topology"
    stem = Path(document.filename).stem
    try:
        return topology_name(stem)
    except ValueError:
        document.report(None, "name", f"the file name would name this topology {stem!r}, which is not a valid name "
                                         "(letters, digits, '-' and '_'): add a name: key, e.g. name: lab, or rename "
                                         "the file")
        return "topology"


def _switch(r: MapReader) -> SwitchSpec:
    name = r.take("name", name_value)
    ageing = r.take("ageing", parse_duration, default=DEFAULT_AGEING_NS)
    limit = r.take("table_limit", integer_between(0, 10_000_000), default=None)
    policy = r.take("table_policy", one_of("refuse", "evict"), default="refuse")
    keys = read_switch_keys(r)  # vlan_filtering, vlan_protocol, storm_limit (security_reader.py)
    stp = read_stp_switch_keys(r)  # stp, priority, hello_time, max_age, forward_delay (stp_reader.py)
    ports, tunnels = [], []
    port_map = r.take_map("ports", required=False)
    for port_name in port_map.names("port"):
        flags_reader = port_map.take_map(port_name)
        values = {flag: flags_reader.take(flag, boolean, default=None) for flag in PORT_FLAGS}
        read_port_keys(flags_reader, port_name, keys)  # pvid, vlans, max_macs, violation
        tunnel = read_vxlan(flags_reader)  # a VXLAN port (vxlan_reader.py)
        if tunnel is not None:
            tunnels.append((port_name, tunnel))
        read_stp_port_keys(flags_reader, port_name, stp)  # priority, path_cost
        flags_reader.finish()
        ports.append((port_name, tuple((f, v) for f, v in values.items() if v is not None)))
    port_map.finish()
    static = []
    for entry in r.take_maps("static", required=False):
        mac, port = entry.take("mac", unicast_mac), entry.take("port", text)
        static.append((mac, port, read_static_vlan(entry, port, keys)))  # vlan (security_reader.py)
        entry.finish()
    spec = SwitchSpec(name, ageing, limit, policy, tuple(ports), tuple(static), where(r), **switch_spec_keys(keys),
                      vxlan=tuple(tunnels), stp=stp_spec(stp))
    r.finish()
    return spec


def _nic(r: MapReader, default_name: str = "eth0") -> NicSpec:
    return NicSpec(r.take("name", name_value, default=default_name), r.take("mac", unicast_mac),
                   tuple(r.take_list("groups", group_mac, required=False)), where(r), where(r, "mac"),
                   guest=read_guest(r), attach=read_attach(r))


def _host(r: MapReader) -> HostSpec:
    name = r.take("name", name_value)
    if "nics" in r.mapping:
        nics: list[NicSpec] = []
        for nic_reader in r.take_maps("nics"):
            nics.append(_nic(nic_reader, default_name=f"eth{len(nics)}"))
            nic_reader.finish()
        if not nics:
            r.error("nics", "a host needs at least one NIC")
        if "mac" in r.mapping:
            r.error("mac", "give either mac (one NIC, eth0) or nics, not both")
        for key in ("ip", "arp_timeout", "arp_notify", "ip6", "link_local", "dad_transmits", "attach"):
            if key in r.mapping:
                r.error(key, f"with nics, give {key} in each NIC's mapping")
                r.take(key, lambda v: v)
    else:
        nics = [NicSpec("eth0", r.take("mac", unicast_mac), tuple(r.take_list("groups", group_mac, required=False)),
                        where(r), where(r, "mac"), guest=read_guest(r), attach=read_attach(r))]
    r.finish()
    return HostSpec(name, tuple(nics), where(r))


def _vm(r: MapReader, hypervisor_io: IoSpec | None, hypervisor: str, vlans: tuple[HostVlanSpec, ...]) -> VMSpec:
    name = r.take("name", name_value)
    mac = r.take("mac", unicast_mac, default=None)
    prefix = r.take("prefix", mac_prefix, default="qemu")
    if mac is not None and "prefix" in r.mapping:
        r.error("prefix", "give either mac or prefix (to allocate a MAC from), not both")
    mode = r.take("mode", one_of(*MODES), default=None)
    groups = tuple(r.take_list("groups", group_mac, required=False))
    guest = read_guest(r)
    vf = read_vf(r)  # SR-IOV controls (security_reader.py)
    io = read_io(r, hypervisor_io)  # its I/O model (io_reader.py)
    attach = read_attach(r)  # a real station in `vswitch live` (live_reader.py)
    on = read_on(r, hypervisor, vlans, vf, mode)  # stacked on a host VLAN interface (hostvlan_reader.py)
    r.finish()
    return VMSpec(name, mac, prefix, mode, groups, where(r), where(r, "mac"), guest=guest, vf=vf, io=io,
                  attach=attach, on=on)


def _hypervisor(r: MapReader) -> HypervisorSpec:
    name = r.take("name", name_value)
    mac = r.take("mac", unicast_mac)
    backend = r.take("backend", one_of(*BACKENDS), default="adapter")
    mode = r.take("mode", one_of(*MODES), default="bridge")
    if backend == "bridge" and "mode" in r.mapping:
        r.error("mode", "mode applies to backend: adapter (macvlan modes); a host bridge has none")
    guest = read_guest(r)
    keys = read_hypervisor_keys(r, backend)  # mac_filter_size, vlan_filtering (security_reader.py)
    io = read_io(r, vm=False)  # the default I/O model of its VMs (io_reader.py)
    vlans = read_host_vlans(r, name, backend)  # eth0.N interfaces (hostvlan_reader.py)
    vms = tuple(_vm(v, io, name, vlans) for v in r.take_maps("vms", required=False))
    if mode == "passthru" and len(vms) > 1:
        r.error("vms", f"passthru gives the whole adapter to one vNIC, but {len(vms)} VMs are listed")
    r.finish()
    return HypervisorSpec(name, mac, backend, mode, vms, where(r), where(r, "mac"), guest=guest, io=io, vlans=vlans,
                          **keys)


def _links(top: MapReader) -> list[LinkSpec]:
    links: list[LinkSpec] = []
    items = top.mapping.get("links")
    top.take("links", lambda v: v, default=None)  # mark as known; items are read below
    if items is None:
        return links
    if not isinstance(items, LocatedList):
        top.error("links", f"expected a list, got {describe(items)}")
        return links
    for index, item in enumerate(items):
        path = item_path("links", index)
        location = items.item_locations[index]
        if isinstance(item, LocatedList):  # shorthand: [h1, sw1.p1]
            if len(item) != 2 or not all(isinstance(x, str) for x in item):
                top.document.report(location, path, "a link is [A, B] or a mapping with a and b")
                continue
            links.append(LinkSpec(item[0], item[1], where=Where(top.document.filename, location.line,
                                                                location.column, path)))
            continue
        if not isinstance(item, LocatedMap):
            top.document.report(location, path, f"expected [A, B] or a mapping, got {describe(item)}")
            continue
        r = MapReader(top.document, item, path)
        links.append(LinkSpec(
            r.take("a", text), r.take("b", text),
            latency_ns=r.take("latency", virtual_time(r), default=0),
            bandwidth_bps=r.take("bandwidth", parse_rate, default=None),
            queue_frames=r.take("queue", integer_between(0, 1_000_000), default=DEFAULT_QUEUE_FRAMES),
            where=where(r), **dict(zip(("a_to_b", "b_to_a"), read_impairments(r)))))
        r.finish()
    return links


def _captures(top: MapReader) -> tuple[list[CaptureSpec], str | None]:
    section = top.take_map("captures", required=False)
    pcapng_value = section.take("pcapng", lambda v: v if isinstance(v, bool) else capture_file(v), default=True)
    pcapng = "all.pcapng" if pcapng_value is True else (pcapng_value or None)
    captures = []
    items = section.mapping.get("points")
    section.take("points", lambda v: v, default=None)
    points = items if isinstance(items, LocatedList) else LocatedList(section.mapping.location)
    for index, item in enumerate(points):
        path = item_path("captures.points", index)
        location = points.item_locations[index]
        if isinstance(item, str):
            captures.append(CaptureSpec(item, "both", _default_file(item),
                                        Where(top.document.filename, location.line, location.column, path)))
            continue
        if not isinstance(item, LocatedMap):
            top.document.report(location, path, f"expected an interface name or a mapping, got {describe(item)}")
            continue
        r = MapReader(top.document, item, path)
        point = r.take("point", text)
        direction = r.take("direction", one_of(*DIRECTIONS), default="both")
        file_name = r.take("file", capture_file, default=_default_file(point or "capture"))
        r.finish()
        captures.append(CaptureSpec(point, direction, file_name, where(r)))
    if items is not None and not isinstance(items, LocatedList):
        section.error("points", f"expected a list of interface names, got {describe(items)}")
    section.finish()
    _check_capture_files(top.document, captures, pcapng, where(section, "pcapng"))
    return captures, pcapng


def _check_capture_files(document: Document, captures: list[CaptureSpec], pcapng: str | None,
                         pcapng_where: Where) -> None:
    """Capture files the file system cannot hold, or that collide: one file written twice, or a file where
    another capture needs a folder (``x`` and ``x/a.pcap``)."""
    files: dict[tuple[str, ...], tuple[str, Where]] = {}
    if pcapng:
        files[capture_parts(pcapng)] = ("captures.pcapng", pcapng_where)
    for cap in captures:
        if cap.file is None:  # refused when read
            continue
        key = capture_parts(cap.file)
        size = len(key[-1].encode("utf-8")) if key else 0
        if size > MAX_NAME_BYTES:  # an explicit file was checked when read: this is the point's default name
            _report(document, cap.where, f"this point's default capture file name is {size} bytes long, longer "
                                         f"than a file system allows ({MAX_NAME_BYTES}): give the point a file, "
                                         "e.g. {point: NAME, file: short.pcap}")
            continue
        if key in files:
            _report(document, cap.where, f"capture file {cap.file} is written twice: give it its own file")
            continue
        files[key] = (cap.where.path, cap.where)
    for key, (_, place) in files.items():
        for depth in range(1, len(key)):
            other = files.get(key[:depth])
            if other is not None:
                _report(document, place, f"capture file {'/'.join(key)} needs a folder {'/'.join(key[:depth])}, "
                                         f"but {other[0]} writes a file of that name: rename one of them")
                break


def _default_file(point: str) -> str:
    return point.replace(".", "-") + ".pcap"


def _check_io_expectations(spec: TopologySpec, document: Document) -> None:
    """An ``io`` expectation names a VM that has an I/O model: without one there is nothing to count."""
    io_of = {vm.name: vm.io for hv in spec.hypervisors for vm in hv.vms}
    checks = [(e.check, e.where) for e in spec.expectations]
    checks += [(a.action.check, a.where) for a in spec.scenario if isinstance(a.action, ExpectAction)]
    for check, place in checks:
        if isinstance(check, IoCheck) and check.vm in io_of:
            io = io_of[check.vm]
            if io is None or io.model == "none":
                models = ", ".join(m for m in MODEL_NAMES if m != "none")
                _report(document, place, f"io: VM {check.vm} has no I/O model to count: give it one on the VM or its "
                                         f"hypervisor (io: virtio; models: {models})")


def _check_names(spec: TopologySpec, document: Document) -> None:
    """Names unique across the file; link ends and capture points naming things that exist."""
    seen: dict[str, Where] = {}
    for kind, items in (("switch", spec.switches), ("host", spec.hosts), ("hypervisor", spec.hypervisors),
                        ("VM", [vm for hv in spec.hypervisors for vm in hv.vms])):
        for item in items:
            if item.name in seen:
                _report(document, item.where, f"the name {item.name!r} is used twice (also at line {seen[item.name].line})")
            seen[item.name] = item.where
    macs: dict[bytes, str] = {}
    stations = [(f"{h.name}.{n.name}", n.mac, n.mac_where) for h in spec.hosts for n in h.nics]
    stations += [(hv.name, hv.mac, hv.mac_where) for hv in spec.hypervisors]
    stations += [(vm.name, vm.mac, vm.mac_where) for hv in spec.hypervisors for vm in hv.vms if vm.mac is not None]
    stations += [(f"{hv.name}.{v.vid}", v.mac, v.mac_where) for hv in spec.hypervisors for v in hv.vlans if v.mac]
    for owner, mac, place in stations:
        if mac.packed in macs:
            _report(document, place, f"duplicate MAC {mac} (also {macs[mac.packed]})")
        macs[mac.packed] = owner
    used_ports: dict[str, Where] = {}
    hypervisor_of = {vm.name: hv.name for hv in spec.hypervisors for vm in hv.vms}
    devices = [*(sw.name for sw in spec.switches), *(h.name for h in spec.hosts), *(hv.name for hv in spec.hypervisors)]
    for name in devices:
        hypervisor_of.pop(name, None)  # a name used twice is reported as such
    for link in spec.links:
        for end in (link.a, link.b):
            node = end.split(".", 1)[0]
            if node not in seen:
                _report(document, link.where, f"link end {end!r}: no switch, host, hypervisor or VM named {node!r}"
                        + _suggest(node, seen))
            elif node in hypervisor_of:
                _report(document, link.where, f"link end {end!r}: {node} is a VM, whose vNIC sits on hypervisor "
                        f"{hypervisor_of[node]}'s adapter: cable the hypervisor instead ({hypervisor_of[node]})")
            elif "." in end and end in used_ports:
                _report(document, link.where, f"port {end} already has a link (line {used_ports[end].line})")
            used_ports.setdefault(end, link.where)
    sent = frame_names(list(spec.scenario))
    checks = [(e.check, e.where) for e in spec.expectations]
    checks += [(a.action.check, a.where) for a in spec.scenario if isinstance(a.action, ExpectAction)]
    for check, place in checks:
        if isinstance(check, FrameExpectation) and check.frame not in sent:
            _report(document, place, f"no send action is named {check.frame!r}"
                    + _suggest(check.frame, dict.fromkeys(sent)))
    switches = {s.name for s in spec.switches} | {h.name for h in spec.hypervisors if h.backend == "bridge"}
    vms = {vm.name for hv in spec.hypervisors for vm in hv.vms}
    kinds = {"switch": switches, "VM": vms, "hypervisor": {h.name for h in spec.hypervisors}}
    named = [(a.action.check if isinstance(a.action, ExpectAction) else a.action, a.where) for a in spec.scenario]
    for body, place in named + [(e.check, e.where) for e in spec.expectations]:
        for key, value, must_be in body.named():
            _check_reference(document, place, f"{body.kind}.{key}", value, must_be, seen, kinds)
    for cap in spec.captures:
        node = cap.point.split(".", 1)[0]
        if node not in seen:
            _report(document, cap.where, f"capture point {cap.point!r}: nothing named {node!r}" + _suggest(node, seen))


def _check_reference(document: Document, place: Where, field: str, value, must_be: str, seen: dict,
                     kinds: dict[str, set[str]]) -> None:
    """Report a name (or each of a tuple of names) that points at nothing, or at the wrong kind of thing."""
    for name in (value if isinstance(value, tuple) else (value,)):
        if not name:
            continue
        node = name.split(".", 1)[0]
        if node not in seen:
            _report(document, place, f"{field}: nothing named {node!r}" + _suggest(node, seen))
        elif must_be != "interface" and node not in kinds[must_be]:
            _report(document, place, f"{field}: {node!r} is not a {must_be}" + _suggest(node, dict.fromkeys(kinds[must_be])))


def _suggest(name: str, known: dict) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _report(document: Document, place: Where, message: str) -> None:
    document.report(Location(place.line, place.column) if place.line else None, place.path, message)
