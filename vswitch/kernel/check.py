"""``vswitch kernel-check FILE``: run a topology file on the Linux kernel and in vswitch, compare who received what.

The kernel is the oracle (DESIGN.md section 6). ``check_topology(spec)`` runs the file in vswitch
(``record``) and in kernel namespaces (``compare``) and returns a ``CheckReport``: per frame, the
interfaces whose stack accepted it in each (``PACKET_OTHERHOST`` copies are vswitch's ``NOT_FOR_US`` drops, so
they count only at a promiscuous interface), and the switches' learned tables side by side. Documented
differences are ``known difference``, never ``agree``; what the kernel here cannot express is listed as not
checked (docs/fidelity.md has both lists).
Everything created is removed on success, error and Ctrl-C; ``vswitch kernel-cleanup`` removes a killed run's.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field

from tabulate import tabulate

from ..core.units import format_duration
from ..guests.inet6 import multicast_mac, solicited_node
from ..l2.impair import Impairment
from ..l2.nic import NIC
from ..l2.switch import LearningSwitch
from ..net.network import Network
from ..realtime import now_s, sleep_until, stopwatch_s
from ..topology.build import build_network
from ..topology.spec import HostSpec, HypervisorSpec, LinkSpec, NicSpec, SwitchSpec, TopologySpec, VMSpec, Where
from . import scope
from .scope import hops
from .compare import KernelCheckError, KernelOutcome, KernelTopology, require_kernel_lab
from .dad import DadRow, compare_probes, kernel_probes, vswitch_probes
from .lab import KernelLab
from .record import Step, record_run, sent_frames

AGREE, DIFFER, KNOWN, NOT_CHECKED = "agree", "DIFFER", "known difference", "not checked"
PREFIX = "vsk"  # namespaces vsk_<pid><n>-...; tests use vskt/vskk, the probe vskp
PREFIXES = ("vsk", "vskk", "vskt", "vskp")
NOTES = {
    "unfiltered": "the kernel's veth/bridge device has no multicast filter, so its stack takes groups nobody "
                  "joined; vswitch's interfaces filter like real NICs (docs/fidelity.md)",
    "hash": "macvlan's 256-bucket multicast hash filter let through a group this vNIC did not join; vswitch "
            "filters exactly (docs/fidelity.md)",
    "left": "a macvlan keeps a group it left in its filter until its address lists change again (the filter is "
            "computed before the group is unsynced from the adapter); vswitch stops at once (docs/fidelity.md)",
    "joining": "its own address, in DAD too, has the probe's solicited-node group: it joins that group as its "
               "DAD begins, and the lab turns interfaces on one by one while Linux sends a first probe after a "
               "random part of rtr_solicit_delay, so the probe may come first; vswitch joins every group at time 0",
}
#: Spec fields kernel-check reproduces or knowingly leaves out; any other field set in a file is "not checked".
_KNOWN_FIELDS = {
    SwitchSpec: {"name", "ageing_ns", "table_limit", "table_policy", "ports", "static", "where", "vlan_filtering",
                 "vlan_protocol", "port_vlans", "port_security", "storm_limit"},  # scope.py: the new ones
    HostSpec: {"name", "nics", "where"}, NicSpec: {"name", "mac", "groups", "where", "guest"},
    HypervisorSpec: {"name", "mac", "backend", "mode", "vms", "where", "guest", "mac_filter_size", "vlan_filtering",
                     "vlans"},
    VMSpec: {"name", "mac", "prefix", "mode", "groups", "where", "guest", "vf", "on"},
    LinkSpec: {"a", "b", "latency_ns", "bandwidth_bps", "queue_frames", "where", "a_to_b", "b_to_a"},
}


@dataclass
class FrameCheck:
    """One frame copy: receivers (interface -> copies) in each, those left out as documented, the verdict."""

    label: str
    sender: str
    kernel: dict[str, int]
    vswitch: dict[str, int]
    known: dict[str, str] = field(default_factory=dict)  # interface -> NOTES key
    verdict: str = AGREE
    note: str = ""
    sent: bool = True  # False: not replayed in the kernel


@dataclass
class TableCheck:
    switch: str
    mac: str
    kernel: str  # port ("-" if absent); vswitch likewise
    vswitch: str
    verdict: str
    vlan: int | None = None  # the entry's VLAN, on a VLAN-filtering switch


@dataclass
class CheckReport:
    topology: str
    frames: list[FrameCheck]
    tables: list[TableCheck]
    not_checked: list[str]
    stray: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    kernel_ipv6: int = 0  # copies of frames the lab's own IPv6 stacks sent (not compared)

    @property
    def agrees(self) -> bool:
        rows: list[FrameCheck | TableCheck] = [*self.frames, *self.tables]
        return all(row.verdict != DIFFER for row in rows)


# -- what the kernel can express ----------------------------------------------------------------------
def unsupported(net: Network) -> list[str]:
    """Why ``net`` cannot be rebuilt from kernel objects at all (empty: it can)."""
    reasons, group = [], {name: name for name in net.switches}  # union-find over cabled switches

    def root(name: str) -> str:
        return name if group[name] == name else root(group[name])

    uplinks = {hv.uplink for hv in net.hypervisors.values()}
    for link in net.links:
        ends = []
        for port in link.ports:
            if isinstance(port.node, LearningSwitch) and port.node.name not in net.hypervisors:
                ends.append(port.node.name)
            elif port not in uplinks and not (type(port.node) is NIC and port.node.name in net.hosts):
                reasons.append(f"link {link.ports[0].full_name} - {link.ports[1].full_name}: a cable to "
                               f"{port.full_name} has no kernel counterpart here")
        if len(ends) == 2:
            if root(ends[0]) == root(ends[1]):
                reasons.append(f"link {link.ports[0].full_name} - {link.ports[1].full_name} closes a loop of "
                               "switches: kernel bridges without STP would storm")
            group[root(ends[0])] = root(ends[1])
    return reasons + scope.unsupported(net)  # VLANs and port security


def not_checked(spec: TopologySpec) -> list[str]:
    """Features of ``spec`` that kernel-check does not reproduce, one line each."""
    out = []
    checks = len(spec.expectations) + sum(a.kind == "expect" for a in spec.scenario)
    if checks:
        out.append(f"the file's {checks} expectation(s): vswitch's own test of the file; kernel-check compares "
                   "receivers and learned tables instead")
    timed = [f"{ln.a}-{ln.b}" for ln in spec.links if ln.latency_ns or ln.bandwidth_bps or ln.queue_frames != 1000]
    if timed:
        out.append(f"link latency, bandwidth and queues ({', '.join(timed)}): the kernel replays one frame at a "
                   "time, so timing, rate limits and queue drops are not compared")
    impaired = [f"{ln.a}-{ln.b}" for ln in spec.links if ln.a_to_b.active or ln.b_to_a.active]
    if impaired:
        out.append(f"link impairments ({', '.join(impaired)}): loss, jitter, duplication and corruption are random "
                   "draws that netem would make differently, so they are not compared: both sides run without them")
    if spec.captures:
        out.append("captures: pcaps are not compared")
    items: list[SwitchSpec | HostSpec | NicSpec | HypervisorSpec | VMSpec | LinkSpec] = [
        *spec.switches, *spec.hosts, *(n for h in spec.hosts for n in h.nics), *spec.hypervisors,
        *(vm for hv in spec.hypervisors for vm in hv.vms), *spec.links]
    guests = [(f"{h.name}.{n.name}", n.guest) for h in spec.hosts for n in h.nics]
    for hv in spec.hypervisors:
        guests += [(hv.name, hv.guest), *((vm.name, vm.guest) for vm in hv.vms)]
    stacks = [f"{name} {guest.interface}" for name, guest in guests
              if guest is not None and guest.interface is not None]
    ipv6 = [name for name, guest in guests if guest is not None and guest.ipv6 is not None]
    if ipv6:
        out.append(f"IPv6 ({', '.join(ipv6)}): the lab turns the kernel's IPv6 on there with the same addresses, "
                   "so that the kernel joins the solicited-node groups itself (not copied from vswitch), with its "
                   "own DAD where the file keeps it (its probes are matched to vswitch's by sender and target, not "
                   "one to one: Linux's nonce and start delay are random); its other frames are left out, the "
                   "frames vswitch's stacks sent are replayed")
    if stacks:
        out.append(f"IPv4 stacks ({', '.join(stacks)}): they are vswitch's; the kernel lab has no addresses and "
                   "sends the frames vswitch's stacks sent, so where they go is checked, not what Linux would answer")
    for item in items:
        for f in dataclasses.fields(item):
            value = getattr(item, f.name)
            default = f.default if f.default is not dataclasses.MISSING else None
            if (f.name not in _KNOWN_FIELDS.get(type(item), {f.name}) and not isinstance(value, Where)
                    and value not in (default, None, (), False)):
                name = getattr(item, "name", None) or f"{getattr(item, 'a', '?')}-{getattr(item, 'b', '?')}"
                out.append(f"{type(item).__name__.removesuffix('Spec').lower()} {name}: {f.name}={value!r} "
                           "is not reproduced in the kernel lab")
    return out + scope.not_checked(spec)  # SR-IOV controls, MAC filters, storm limits


# -- comparing ------------------------------------------------------------------------------------------
def _kernel_receivers(topo: KernelTopology, outcome: KernelOutcome) -> Counter[str]:
    got: Counter[str] = Counter()
    for r in outcome.result.received if outcome.result else ():
        if r.pkttype != "otherhost" or r.endpoint in outcome.promiscuous:
            got[topo.interface_of[r.endpoint]] += 1
    return got


def compare_frame(frame_id: int, step: Step, outcome: KernelOutcome, topo: KernelTopology, net: Network
                  ) -> FrameCheck:
    kernel = _kernel_receivers(topo, outcome)
    vswitch = Counter(hops(net).delivered_to(frame_id))
    known = {}
    if outcome.result is not None and step.frame[0] & 1 and step.frame[:6] != b"\xff" * 6:
        group = step.frame[:6].hex(":")
        for ep in outcome.result.unjoined:  # not for a vNIC's own multicast handed back past its filter
            iface = topo.interface_of[ep]
            if kernel[iface] > vswitch[iface] and ep not in outcome.reflected:
                known[iface] = ("unfiltered" if topo.filter_of[ep] != "macvlan" else
                                "left" if group in topo.left.get(ep, ()) else "hash")
    return FrameCheck(step.label, step.sender, dict(kernel), dict(vswitch), known,
                      _verdict(kernel, vswitch, known), outcome.note)


def _verdict(kernel: dict[str, int], vswitch: dict[str, int], known: dict[str, str]) -> str:
    same = all(kernel.get(i, 0) == vswitch.get(i, 0) for i in set(kernel) | set(vswitch) if i not in known)
    return DIFFER if not same else KNOWN if known else AGREE


def _dad_rows(steps: list[Step], net: Network, topo: KernelTopology, copies: list) -> list[DadRow]:
    """The kernel's DAD probes (``copies`` the lab took while it ran) against vswitch's (kernel/dad.py); the
    other copies join the lab's stray ones (the kernel's MLD reports: its own IPv6)."""
    kernel, rest = kernel_probes(copies, topo.interface_of, frozenset(topo.promiscuous),
                                 {n.mac.packed: n.full_name for n in _nics(net)})
    topo.lab.sockets.stray.extend(rest)
    groups = {target: multicast_mac(solicited_node(target)).hex(":") for _, target in kernel}  # its group's MAC
    filters = {}
    for (_, target), probes in kernel.items():
        for interface in probes.receivers:
            ep = topo.endpoint_of.get(interface)
            if ep is not None and groups[target] not in topo.lab.groups(ep):
                filters[interface] = "unfiltered" if topo.filter_of[ep] != "macvlan" else "hash"
    return compare_probes(kernel, vswitch_probes(steps, net), filters)


def compare_tables(topo: KernelTopology, net: Network) -> list[TableCheck]:
    """Learned and static entries per switch (host bridges too, less the host's own MAC: a permanent local
    entry in the kernel, learned on ``host-side`` in vswitch)."""
    rows = []
    for switch in sorted(topo.bridge_of):
        verdict = NOT_CHECKED if switch in topo.unchecked else None
        filtering = net.switch(switch).vlan_filtering  # entries are (VLAN, MAC) then
        vs = {(r.vlan if filtering else None, r.mac): r.port + (" (static)" if r.static else "")
              for r in net.switch(switch).table.rows(net.now)
              if not (switch in net.hypervisors and r.port == "host-side")}
        kr = {(e.vlan if filtering else None, e.mac): e.node[len(switch) + 1:] + (" (static)" if e.is_static else "")
              for e in topo.lab.fdb(topo.bridge_of[switch])}
        for vlan, mac in sorted(set(vs) | set(kr), key=lambda key: (key[0] or 0, key[1])):
            k, v = kr.get((vlan, mac), "-"), vs.get((vlan, mac), "-")
            rows.append(TableCheck(switch, mac, k, v, verdict or (AGREE if k == v else DIFFER), vlan))
    return rows


def _in_flight(steps: list[Step], net: Network) -> dict[int, str]:
    """Frames whose outcome in vswitch may hang on an order the kernel's one-at-a-time replay does not keep:
    in flight when a later action ran, or met at a switch by a frame that learning ties them to (sent to their
    source and looked up before they were learned, or from their destination and learned before their lookup)."""
    nics = {p.full_name for p in net.ports.values() if isinstance(p.node, NIC)}
    ends: dict[int, int] = {}  # frame id -> last event
    seen: dict[int, dict[str, int]] = {}  # frame id -> {switch: first arrival}
    for frame_id, step in sent_frames(steps):
        events = hops(net).for_frame(frame_id)
        ends[frame_id] = max((e.time_ns for e in events), default=step.time_ns)
        first: dict[str, int] = {}
        seen[frame_id] = first
        for e in events:
            if e.port.split(".")[0] in net.switches and e.port not in nics:
                first.setdefault(e.port.split(".")[0], e.time_ns)
    out: dict[int, str] = {}
    for i, a in enumerate(steps):
        a_id = a.frame_id
        if a_id is None:
            continue
        for b in steps[i + 1:]:
            if b.time_ns >= ends[a_id]:
                break
            b_id = b.frame_id
            if b.action is not None and b_id is None and b.action.kind != "expect":
                out[a_id] = f"in flight in vswitch when the {b.action.kind} at {format_duration(b.time_ns)} ran"
            elif b_id is not None:
                at_a, at_b = seen[a_id], seen[b_id]
                met = [sw for sw in at_a if sw in at_b and at_a[sw] >= at_b[sw]]
                if met and b.frame[0:6] == a.frame[6:12]:
                    out.setdefault(b_id, f"reached {met[0]} before {a.label}, from its destination, was learned")
                elif met and a.frame[0:6] == b.frame[6:12]:
                    out.setdefault(a_id, f"looked up at {met[0]} after {b.label}, from its destination, passed")
    return out


def _ageing_risks(topo: KernelTopology, steps: list[Step], end: tuple[int, float], margin_s: float = 0.05
                  ) -> tuple[dict[int, str], set[str]]:
    """Frames (and, at ``end`` = (virtual ns, monotonic s), table MACs) whose destination's entry might be alive
    in one system and aged out in the other: against each earlier frame from that MAC, the virtual age minus the
    vswitch ageing and the real age minus the kernel's must have the same sign, and both exceed ``margin_s`` of
    real time (the kernel ages entries on a timer, and injections take time)."""
    seen: dict[bytes, list[tuple[int, float]]] = {}  # source MAC -> (virtual ns, real s) of its frames
    timers = [t for t in topo.ageing.values() if t[0]]

    def risky(mac: bytes, virtual: int, real: float) -> bool:
        for (v0, r0), (ageing_ns, ageing_s) in ((x, t) for x in seen.get(mac, ()) for t in timers):
            dv, dk = (virtual - v0 - ageing_ns) * topo.time_scale / 1e9, real - r0 - ageing_s
            if (dv < 0) != (dk < 0) or min(abs(dv), abs(dk)) < margin_s:
                return True
        return False

    frames: dict[int, str] = {}
    for frame_id, step in sent_frames(steps):
        real = topo.sent_at.get(frame_id)
        if real is not None:
            if not step.frame[0] & 1 and risky(step.frame[0:6], step.time_ns, real):
                frames[frame_id] = "its destination's table entry is within the margin of ageing out"
            seen.setdefault(step.frame[6:12], []).append((step.time_ns, real))
    return frames, {mac.hex(":") for mac in seen if risky(mac, *end)}


# -- the check ------------------------------------------------------------------------------------------
def without_impairments(spec: TopologySpec) -> TopologySpec:
    """``spec`` with perfect links: what the kernel lab, which has no netem, is compared with."""
    return dataclasses.replace(spec, links=tuple(dataclasses.replace(ln, a_to_b=Impairment(), b_to_a=Impairment())
                                                 for ln in spec.links))


def check_topology(spec: TopologySpec, *, prefix: str = PREFIX, settle_s: float = 0.02, max_wait_s: float = 5.0,
                   max_frames: int = 2000) -> CheckReport:
    """Run ``spec`` in vswitch and in the kernel; compare. When entries can age out during the scenario, the
    kernel replays it in real time, compressed to at most ``max_wait_s`` (with ageing times scaled alike);
    frames too close to an ageing boundary for that replay are not checked."""
    require_kernel_lab()
    t0 = stopwatch_s()
    skipped = not_checked(spec)
    spec = without_impairments(spec)
    net = build_network(spec)
    reasons = unsupported(net)
    if reasons:
        raise KernelCheckError(f"{spec.name}: the kernel cannot express this topology: {reasons[0]}")
    steps, _ = record_run(spec, net)
    span = max([net.now, *(s.time_ns for s in steps)])
    ageing = min([sw.table.ageing_ns for sw in net.switches.values() if sw.table.ageing_ns], default=None)
    timed = ageing is not None and ageing <= span  # a learned entry may age out during the run: keep time
    scale = min(1.0, max_wait_s * 1e9 / span) if timed else 1.0
    if scale < 1:
        skipped.append(f"real time: the scenario spans {format_duration(span)}, so the kernel replays it "
                       f"{1 / scale:.3g} times faster, with ageing times scaled alike (--max-wait)")
    in_flight = _in_flight(steps, net)
    t1 = stopwatch_s()
    with KernelLab(prefix, settle_s=settle_s) as lab:
        topo = KernelTopology(lab, build_network(spec), time_scale=scale)
        topo.predicted = {frame_id: frozenset(hops(net).delivered_to(frame_id)) for frame_id, _ in sent_frames(steps)}
        topo.build()
        lab.wait_ready()
        dad = _dad_rows(steps, net, topo, lab.start_dad())  # the kernel's own DAD, before anything is replayed
        t2 = stopwatch_s()
        start = now_s() - (steps[0].time_ns * scale / 1e9 if steps else 0)
        outcomes, blocked = topo.replay(steps, start if timed else None, max_frames)
        if timed:
            sleep_until(start + span * scale / 1e9)
        aged, aged_macs = _ageing_risks(topo, steps, (span, now_s())) if timed else ({}, set())
        if blocked:
            skipped.append(f"{blocked}: the frames after it are not checked")
        skipped += [f"switch {name}: {why}; its learned table is not checked" for name, why in topo.unchecked.items()]
        frames = [FrameCheck(r.label, r.sender, r.kernel, r.vswitch, r.known, NOT_CHECKED if r.unchecked else
                             _verdict(r.kernel, r.vswitch, r.known), r.unchecked) for r in dad]
        for frame_id, step in sent_frames(steps):
            outcome = outcomes.get(frame_id)
            frames.append(compare_frame(frame_id, step, outcome, topo, net) if outcome else FrameCheck(
                step.label, step.sender, {}, dict(Counter(hops(net).delivered_to(frame_id))), {}, NOT_CHECKED,
                sent=False))
            why = outcome and (in_flight.get(frame_id) or aged.get(frame_id)
                               or scope.frame_note(net, frame_id, step.frame))
            if why:
                frames[-1].verdict, frames[-1].note = NOT_CHECKED, why
        tables = [] if blocked else compare_tables(topo, net)
        for row in (row for row in tables if row.mac in aged_macs):
            row.verdict = NOT_CHECKED
        if aged or aged_macs:
            skipped.append(f"{len(aged)} frame(s) and {len(aged_macs)} table entr(ies) that the replay could not "
                           "time safely against an ageing time (see their notes)")
        own6 = sum(1 for _, _, frame in lab.stray if _from_an_ipv6_stack(frame, net))
        stray = len(lab.stray) - own6
        t3 = stopwatch_s()
    return CheckReport(spec.name, frames, tables, skipped, stray,
                       {"vswitch": t1 - t0, "kernel build": t2 - t1, "kernel replay": t3 - t2,
                        "teardown": stopwatch_s() - t3}, own6)


def _from_an_ipv6_stack(frame: bytes, net: Network) -> bool:
    """An IPv6 frame from an interface whose IPv6 is on in the kernel lab: that stack's own (an answer to a
    replayed frame, its neighbour discovery, an MLD report), not a copy of an injected one."""
    if frame[12:14] != b"\x86\xdd":
        return False
    return any(getattr(getattr(n.stack, "guest", None), "ipv6", None) is not None for n in _nics(net)
               if n.mac.packed == frame[6:12])  # a passthru adapter's own interface takes its vNIC's MAC


def _nics(net: Network) -> list[NIC]:
    return [*(nic for nics in net.hosts.values() for nic in nics), *(hv.host for hv in net.hypervisors.values()),
            *net.vnics.values()]


# -- output ---------------------------------------------------------------------------------------------
def _receivers(got: dict[str, int], known: dict[str, str], marks: dict[str, int]) -> str:
    """``h1.eth0, vm1.eth0 x2, hv1.host [1]``: copies per interface, documented ones with their note's mark."""
    return ", ".join(i + (f" x{n}" if n > 1 else "") + (f" [{marks[known[i]]}]" if i in known else "")
                     for i, n in sorted(got.items())) or "-"


def render(report: CheckReport) -> str:
    marks = {key: i + 1 for i, key in enumerate(NOTES)}
    rows = [[f.label, f.sender, _receivers(f.kernel, f.known, marks) if f.sent else "(not sent)",
             _receivers(f.vswitch, {i: k for i, k in f.known.items() if k == "joining"}, marks), f.verdict + (f" ({f.note})" if f.note else "")]
            for f in report.frames]
    out = [f"kernel-check {report.topology}: who received each frame (stacks that accepted it)", ""]
    out.append(tabulate(rows, headers=["frame", "from", "kernel", "vswitch", "result"]) if rows else "(no frames)")
    if report.tables:
        vlans = any(t.vlan is not None for t in report.tables)  # a VLAN column where a switch filters VLANs
        out += ["", "learned tables at the end of the run", "",
                tabulate([[t.switch, *([t.vlan if t.vlan is not None else ""] if vlans else []), t.mac, t.kernel,
                           t.vswitch, t.verdict] for t in report.tables],
                         headers=["switch", *(["VLAN"] if vlans else []), "MAC", "kernel port", "vswitch port",
                                  "result"])]
    used = sorted({marks[k] for f in report.frames for k in f.known.values()})
    if used:
        out += ["", "known differences (left out of the comparison):"]
        out += [f"  [{marks[k]}] {text}" for k, text in NOTES.items() if marks[k] in used]
    if report.not_checked:
        out += ["", "not checked:"] + [f"  - {line}" for line in report.not_checked]
    if report.kernel_ipv6:
        out += ["", f"note: {report.kernel_ipv6} copies of frames the kernel's own IPv6 stacks sent (their answers, "
                    "neighbour discovery and MLD reports) were left out"]
    if report.stray:
        out += ["", f"warning: {report.stray} kernel frame(s) matched no injected frame"]
    c, t = Counter(row.verdict for row in report.frames), Counter(row.verdict for row in report.tables)
    times = ", ".join(f"{k} {v:.2f}s" for k, v in report.seconds.items())
    out += ["", f"{len(report.frames)} frames: {c[AGREE]} agree, {c[KNOWN]} known difference, {c[DIFFER]} differ, "
                f"{c[NOT_CHECKED]} not checked; table entries: {t[AGREE]} agree, {t[DIFFER]} differ, "
                f"{t[NOT_CHECKED]} not checked => {'AGREE' if report.agrees else 'DIFFER'} ({times})"]
    return "\n".join(out)
