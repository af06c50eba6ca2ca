"""Check a topology's guest actions and expectations against its stations, before anything is built or written.

Every name must exist and every address must be reachable: a ping to a name that does not exist, to an
interface without an address, or to an address outside the sender's subnet (no gateways are modelled) is
reported with the file, line, column and field (``lab.yaml:31:22: scenario[4].ping.to: ...``). Replay files
must exist and be pcap or pcapng captures of Ethernet. Duplicate addresses and action names are reported too.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, IPv6Interface
from pathlib import Path
from typing import Optional

from ..core.mac import MACAddress
from ..guests.inet import looks_like_address
from ..guests.inet6 import (AnyAddress, any_address_value, eui64_link_local, interfaces6, looks_like_ipv6, reach6,
                             session_family)
from ..guests.migrate import default_announcer
from ..pcap.reader import CaptureFileError, CaptureReader
from .guest_expectations import ArpEntryCheck, NdpEntryCheck, PingCheck, ReachabilityCheck, UdpReceivedCheck
from .guest_reader import MAX_IP_DATA6, GuestAction, MigrateAction, PingallAction, ReplayAction, SessionAction, StreamAction
from .located import Document, Location
from .macplan import vm_mac_table
from .scenario_reader import AttachAction, ExpectAction, SendAction
from .spec import Action, Expectation, GuestSpec, TopologySpec, Where


@dataclass(frozen=True)
class Station:
    """An interface a guest action can name: its full name, its kind and its stack (if it has an address)."""

    interface: str
    kind: str  # "host", "vm" or "hypervisor"
    guest: Optional[GuestSpec]
    mac: Optional[MACAddress]


def stations(spec: TopologySpec) -> dict[str, Station]:
    """Every name an action may use for an interface: ``h1``/``h1.eth0``, ``vm1``/``vm1.eth0``, ``hv1``/``hv1.host``,
    a hypervisor's VLAN interfaces ``hv1.10``."""
    table: dict[str, Station] = {}
    macs = vm_mac_table(spec.hosts, spec.hypervisors)  # a VM without mac: the one the build will allocate
    for host in spec.hosts:
        for nic in host.nics:
            station = Station(f"{host.name}.{nic.name}", "host", nic.guest, nic.mac)
            table[station.interface] = station
            if len(host.nics) == 1:
                table[host.name] = station
    for hv in spec.hypervisors:
        station = Station(f"{hv.name}.host", "hypervisor", hv.guest, hv.mac)
        table[hv.name] = table[station.interface] = station
        for vlan in hv.vlans:  # its VLAN interfaces, hv1.10
            table[f"{hv.name}.{vlan.vid}"] = Station(f"{hv.name}.{vlan.vid}", "hypervisor", vlan.guest,
                                                      vlan.mac or hv.mac)
        for vm in hv.vms:
            table[vm.name] = table[f"{vm.name}.eth0"] = Station(f"{vm.name}.eth0", "vm", vm.guest, macs[vm.name])
    return table


def has_ipv4(station: Optional[Station]) -> bool:
    """Whether ``station`` has an IPv4 address (a stack without one is IPv6-only)."""
    return station is not None and station.guest is not None and station.guest.interface is not None


def station_ipv6(station: Station) -> list[IPv6Interface]:
    """The IPv6 addresses of ``station``'s stack, its link-local first (the EUI-64 of its MAC)."""
    ipv6 = station.guest.ipv6 if station.guest is not None else None
    if ipv6 is None:
        return []
    return interfaces6(station.mac.packed if station.mac else bytes(6), ipv6.addresses, ipv6.link_local)


def pingall_members(spec: TopologySpec, action: PingallAction) -> list[tuple[str, str]]:
    """(name as shown, interface) of each stack ``action`` pings between, in order: its ``between`` (names of one
    interface counted once), or every interface with an address: hosts, then each hypervisor and its VMs, in the
    file's order (a host by its name, or ``host.nic`` when it has several NICs)."""
    table = stations(spec)
    if action.between:
        named = [(name, table[name].interface) for name in action.between if name in table]
    else:
        named = [(host.name if len(host.nics) == 1 else f"{host.name}.{nic.name}", f"{host.name}.{nic.name}")
                 for host in spec.hosts for nic in host.nics if nic.guest is not None]
        for hv in spec.hypervisors:
            named += [(hv.name, f"{hv.name}.host")] if hv.guest is not None else []
            named += [(f"{hv.name}.{v.vid}",) * 2 for v in hv.vlans if v.guest is not None]
            named += [(vm.name, f"{vm.name}.eth0") for vm in hv.vms if vm.guest is not None]
    first: dict[str, str] = {}
    for shown, interface in named:
        first.setdefault(interface, shown)
    return [(shown, interface) for interface, shown in first.items()]


def replay_path(spec: TopologySpec, file: str) -> Path:
    """A replay file is relative to the folder of the topology file."""
    base = Path(spec.source).parent if spec.source not in ("<api>", "<string>") else Path(".")
    return base / file


def _written_as_address(value: str) -> bool:
    """A prefix, a range or digits and dots (``192.0.2.0/30``, ``192.0.2.1-5``, ``10.1``): an address, badly written."""
    return "/" in value or (any(c.isdigit() for c in value) and all(c.isdigit() or c in ".-" for c in value))


class _Checker:
    def __init__(self, spec: TopologySpec, document: Document) -> None:
        self.spec = spec
        self.document = document
        self.stations = stations(spec)
        self.pingalls = {step.action.name: step.action for step in spec.scenario
                         if isinstance(step.action, PingallAction) and step.action.name}
        self.link_locals: Optional[dict[str, str]] = None  # address -> interface, made when first asked
        self.warnings: list[str] = []  # what the file does that is likely not meant (the run still goes ahead)

    def report(self, place: Where, message: str) -> None:
        self.document.report(Location(place.line, place.column) if place.line else None, place.path, message)

    def place(self, item: Action | Expectation, key: str) -> Where:
        return item.place(key) or item.place("") or Where(self.spec.source)

    def station(self, item: Action | Expectation, key: str, name: Optional[str], *,
                needs_stack: bool = False) -> Optional[Station]:
        """The station that the field ``key`` of ``item`` names (``name``), reported if there is none."""
        if name is None:
            return None
        station = self.stations.get(name)
        if station is None:
            close = difflib.get_close_matches(name, list(self.stations), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            nics = [f"{name}.{n.name}" for h in self.spec.hosts if h.name == name and len(h.nics) > 1 for n in h.nics]
            if nics:
                hint = f": host {name} has several NICs, name one ({', '.join(nics)})"
            self.report(self.place(item, key), f"nothing named {name!r}{hint}")
            return None
        if needs_stack and station.guest is None:
            self.report(self.place(item, key), f"{station.interface} has no address: give it one (ip: "
                                               "192.0.2.10/24, or ip6: [2001:db8::10/64]) to "
                                               f"{'send from' if key == 'from' else 'use'} it")
            return None
        return station

    def address(self, item: Action | Expectation, key: str, value: Optional[str], family: Optional[str] = None,
                source: Optional[Station] = None) -> Optional[AnyAddress]:
        """The address a field names: written as an address, or the address of the named interface (its IPv6
        one that ``source`` reaches, with ``family`` ipv6)."""
        if value is None:
            return None
        if looks_like_address(value) or looks_like_ipv6(value) or (
                value not in self.stations and _written_as_address(value)):
            try:
                return any_address_value(value)
            except ValueError as exc:
                self.report(self.place(item, key), f"{exc} (or name an interface)")
                return None
        station = self.station(item, key, value, needs_stack=True)
        if station is None:
            return None
        if source is None and family is None and not has_ipv4(station):  # any of its addresses will do
            return station_ipv6(station)[0]
        if session_family(family, source is None or has_ipv4(source), has_ipv4(station)) == "ipv4":
            if not has_ipv4(station):
                fix = {"arp_entry": "arp_entry checks IPv4 neighbours, ndp_entry IPv6 ones",
                       "arping": "arping asks ARP, which is IPv4's: ping it instead (neighbour discovery)"}
                self.report(self.place(item, key), f"{station.interface} has no IPv4 address (it is IPv6-only): "
                            + fix.get(item.kind, "give it one (ip: 192.0.2.10/24), or reach it over IPv6 "
                                                 "(family: ipv6)"))
                return None
            return station.guest.interface.ip if station.guest and station.guest.interface else None
        address = reach6(station_ipv6(source) if source else [], station_ipv6(station))
        if address is None:
            self.report(self.place(item, key), f"{station.interface} has no IPv6 address that "
                        f"{source.interface if source else 'the sender'} reaches: give both ip6 (a list of "
                        "addresses, [] for the link-local alone)")
        return address

    # -- actions ----------------------------------------------------------------------------------------
    def session(self, action: SessionAction) -> None:
        source = self.station(action, "from", action.from_, needs_stack=True)
        family = "ipv4" if action.kind == "arping" and not looks_like_ipv6(action.to) else action.family
        target = self.address(action, "to", action.to, family, source)
        if source is None or target is None or source.guest is None:
            return
        if target.version == 6:
            self.session6(action, source, target)
            return
        interface = source.guest.interface
        if interface is None:
            self.report(self.place(action, "from"), f"{source.interface} has no IPv4 address (it is IPv6-only): "
                                                    f"it cannot {action.kind} {target}: give it one "
                                                    "(ip: 192.0.2.10/24)" + ("" if action.kind == "arping" else
                                                                             ", or send to an IPv6 address"))
        elif target == interface.ip:
            self.report(self.place(action, "to"), f"{action.to} is {source.interface}'s own address: loopback is "
                                                  "not modelled")
        elif target not in interface.network:
            self.report(self.place(action, "to"), f"{target} is outside {source.interface}'s subnet "
                                                  f"{interface.network}: no gateways are modelled, give both ends "
                                                  "addresses in one subnet")
        elif target in (interface.network.broadcast_address, IPv4Address("255.255.255.255")):
            self.report(self.place(action, "to"), f"{target} is a broadcast address: {action.kind} needs one host")

    def session6(self, action: SessionAction, source: Station, target: IPv6Address) -> None:
        """An IPv6 ping or udp: a sender with IPv6, a target on its link, not itself."""
        own = station_ipv6(source)
        if action.kind == "arping":
            self.report(self.place(action, "to"), "arping asks ARP, which is IPv4's: IPv6 neighbours are found "
                                                  "by ping (neighbour discovery)")
        elif source.guest is not None and source.guest.ipv6 is None:
            self.report(self.place(action, "from"), f"{source.interface} has no IPv6: give it ip6 (a list of "
                                                    "addresses, [] for the link-local alone)")
        elif target.is_multicast or target.is_unspecified:
            self.report(self.place(action, "to"), f"{target} is not one host's address: {action.kind} needs one")
        elif any(target == i.ip for i in own) and (looks_like_ipv6(action.to) or self._is(action.to, source)):
            self.report(self.place(action, "to"), f"{action.to} is {source.interface}'s own address: loopback is "
                                                  "not modelled")
        elif not target.is_link_local and not any(target in i.network for i in own):
            self.report(self.place(action, "to"), f"{target} is outside {source.interface}'s IPv6 prefixes: no "
                                                  "routers are modelled, give both ends addresses in one prefix")
        elif getattr(action, "size", 0) > MAX_IP_DATA6:
            self.report(self.place(action, ""), f"size {getattr(action, 'size')} does not fit a 1500-byte IPv6 "
                                                f"packet: at most {MAX_IP_DATA6} bytes of data")
        if looks_like_ipv6(action.to) and self.unknown_eui64(target):  # an absent host, or a MAC mistaken
            self.warnings.append(f"{self.place(action, 'to')}: {self.unknown_eui64(target)}")

    def unknown_eui64(self, target: IPv6Address) -> str:
        """What is likely wrong with ``target``, a link-local address made from a MAC (ff:fe in its interface
        identifier, as Linux makes them) that is no interface's here (a VM's MAC mistaken, or an allocated one
        guessed): a warning, '' when it is one's or not of that form. (An absent host is a fair target: a warning,
        not an error.)"""
        if not target.is_link_local or target.packed[11:13] != b"\xff\xfe":
            return ""
        if self.link_locals is None:  # each interface's: its MAC's EUI-64, and any fe80:: address its ip6 lists
            self.link_locals = {str(eui64_link_local(s.mac.packed)): s.interface for s in self.stations.values()
                                if s.guest is not None and s.guest.ipv6 is not None and s.guest.ipv6.link_local
                                and s.mac is not None}
            self.link_locals.update((str(a.ip), s.interface) for s in self.stations.values()
                                    if s.guest is not None and s.guest.ipv6 is not None
                                    for a in s.guest.ipv6.addresses if a.ip.is_link_local)
        owners = self.link_locals
        if str(target) in owners:
            return ""
        mac = MACAddress(bytes((target.packed[8] ^ 2,)) + target.packed[9:11] + target.packed[13:16])
        close = difflib.get_close_matches(str(target), sorted(owners), n=1, cutoff=0.8)
        hint = (f": did you mean {close[0]}, {owners[close[0]]}'s? Or name the interface (to: "
                f"{owners[close[0]].removesuffix('.eth0')}), whose address the run uses" if close else
                ": name the interface instead (to: vm1), whose address the run uses")
        return (f"{target} is no interface's link-local address here (it is the one of MAC {mac}, which no "
                f"interface with IPv6 has), so nothing will answer{hint}; a VM without mac gets one from its prefix "
                "in file order (docs/ipv6.md)")

    def _is(self, name: str, station: Station) -> bool:
        """Whether ``name`` names ``station``'s interface (not another with the same address)."""
        named = self.stations.get(name)
        return named is not None and named.interface == station.interface

    def action(self, action: Action) -> None:
        if isinstance(action, SessionAction):
            self.session(action)
        elif isinstance(action, StreamAction):
            self.station(action, "from", action.from_)
            self.station(action, "to", action.to)
        elif isinstance(action, ReplayAction):
            if action.from_ is not None:
                self.station(action, "from", action.from_)
            elif action.into is not None:
                self.port(action, "into", action.into)
            if action.file:
                path = replay_path(self.spec, action.file)
                try:
                    CaptureReader(path).close()
                except CaptureFileError as exc:
                    self.report(self.place(action, "file"), str(exc))
        elif isinstance(action, MigrateAction):
            self.migration(action)
        elif isinstance(action, AttachAction):
            on = {vm.name: vm.on for hv in self.spec.hypervisors for vm in hv.vms}.get(action.vm)
            self.lands_on(action, action.vm, on, action.hypervisor, "hypervisor")
        elif isinstance(action, PingallAction):
            self.pingall(action)

    def pingall(self, action: PingallAction) -> None:
        interfaces: dict[str, str] = {}
        for index, name in enumerate(action.between):
            station = self.station(action, f"between[{index}]", name, needs_stack=True)
            if station is not None and station.interface in interfaces:
                self.report(self.place(action, f"between[{index}]"), f"{name} and {interfaces[station.interface]} "
                                                                     f"are one interface ({station.interface}): "
                                                                     "list it once")
            elif station is not None:
                interfaces[station.interface] = name
        if not action.between and len(pingall_members(self.spec, action)) < 2:
            self.report(self.place(action, ""), "pingall needs at least two interfaces with an address "
                                                "(ip: 192.0.2.10/24): give them addresses")

    def port(self, item: Action, key: str, port: str) -> None:
        node = port.split(".", 1)[0]
        known = {s.name for s in self.spec.switches} | {h.name for h in self.spec.hosts} | \
                {h.name for h in self.spec.hypervisors} | {vm.name for h in self.spec.hypervisors for vm in h.vms}
        if node not in known:
            close = difflib.get_close_matches(node, sorted(known), n=1)
            self.report(self.place(item, key), f"no port {port!r}: nothing named {node!r}"
                        + (f" (did you mean {close[0]!r}?)" if close else ""))

    def migration(self, action: MigrateAction) -> None:
        vms = {vm.name: (hv, vm) for hv in self.spec.hypervisors for vm in hv.vms}
        hypervisors = {hv.name for hv in self.spec.hypervisors}
        vm_name, target = action.vm, action.to
        if vm_name is not None and vm_name not in vms:
            close = difflib.get_close_matches(vm_name, list(vms), n=1)
            self.report(self.place(action, "vm"), f"no VM named {vm_name!r}" + (f" (did you mean {close[0]!r}?)"
                                                                                    if close else ""))
        if target is not None and target not in hypervisors:
            close = difflib.get_close_matches(target, sorted(hypervisors), n=1)
            self.report(self.place(action, "to"), f"no hypervisor named {target!r}"
                        + (f" (did you mean {close[0]!r}?)" if close else ""))
        if vm_name in vms:
            hv, vm = vms[vm_name]
            self.lands_on(action, vm_name, vm.on, target, "to")
            mac = self.stations[vm_name].mac  # given, or the one the build allocates
            xen = (action.announce or default_announcer(mac.packed if mac else b"")) == "xen"
            if xen and vm.guest is None:
                self.report(self.place(action, "announce" if action.announce else "vm"),
                            f"the xen announcement comes from the guest's stack (a gratuitous ARP, unsolicited "
                            f"neighbour advertisements): give {vm_name} an address (ip: 192.0.2.10/24 or ip6: "
                            "[2001:db8::10/64]) or use announce: qemu")

    def lands_on(self, action: Action, vm: str, on: Optional[str], target: Optional[str], key: str) -> None:
        """A VM on a host VLAN interface (``on: hv1.10``) migrates (or is attached) onto the target's interface of
        that VID."""
        targets = {hv.name: hv for hv in self.spec.hypervisors}
        if on is None or target not in targets:
            return
        vid = on.rpartition(".")[2]
        if not any(str(v.vid) == vid for v in targets[target].vlans):
            self.report(self.place(action, key), f"{vm} is on VLAN interface {on}: hypervisor {target} "
                        f"needs one of VLAN {vid} for it to land on (vlans: [{{vid: {vid}}}])")

    # -- expectations -----------------------------------------------------------------------------------
    def reachability(self, check: ReachabilityCheck, pingalls: dict[str, PingallAction]) -> None:
        if check.name is None and len(pingalls) != 1:
            named = ", ".join(sorted(pingalls))
            self.report(self.place(check, ""), "no pingall action to check: add one to the scenario (pingall: {})"
                        if not pingalls else f"the file has several pingall actions ({named}): name the one to "
                                             "check (name: ...)")
            return
        if check.name is not None and check.name not in pingalls:
            close = difflib.get_close_matches(check.name, sorted(pingalls), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (named: {', '.join(sorted(pingalls)) or 'none'})"
            self.report(self.place(check, "name"), f"no pingall action is named {check.name!r}{hint}")
            return
        action = pingalls[check.name] if check.name is not None else next(iter(pingalls.values()))
        members = dict((interface, shown) for shown, interface in pingall_members(self.spec, action))
        listing = ", ".join(members.values())
        for key, rows in (("except", check.except_), ("reaches", check.reaches or ())):
            for source, targets in rows:
                written = [(f"{key}.{source}", source)] + [(f"{key}.{source}[{i}]", t) for i, t in enumerate(targets)]
                found = []
                for place, name in written:
                    station = self.station(check, place, name)
                    if station is not None and station.interface not in members:
                        self.report(self.place(check, place), f"{name} is not one of the interfaces pingall "
                                                              f"{action.name!r} pings between ({listing})")
                    found.append(station.interface if station else None)
                for (place, name), interface in zip(written[1:], found[1:]):
                    if interface is not None and interface == found[0]:
                        self.report(self.place(check, place), f"{name} is {source} itself: pingall pings the others")

    def expectation(self, check: Expectation, sessions: set[str]) -> None:
        if isinstance(check, PingCheck):
            if check.name is not None and check.name not in sessions:
                close = difflib.get_close_matches(check.name, sorted(sessions), n=1)
                named = ", ".join(sorted(sessions)) or "none"
                hint = f" (did you mean {close[0]!r}?)" if close else f" (named: {named})"
                self.report(self.place(check, "name"), f"no ping, arping or udp action is named {check.name!r}{hint}")
        elif isinstance(check, ArpEntryCheck):
            on = self.station(check, "on", check.on, needs_stack=True)
            if on is not None and not has_ipv4(on):
                self.report(self.place(check, "on"), f"{on.interface} has no IPv4 address (it is IPv6-only), so no "
                                                     "ARP cache: check its IPv6 neighbours with ndp_entry")
            elif looks_like_ipv6(check.ip or ""):
                self.report(self.place(check, "ip"), f"{check.ip} is an IPv6 address: the ARP cache holds IPv4 "
                                                     "ones (ndp_entry checks IPv6)")
            else:
                self.address(check, "ip", check.ip, "ipv4")
        elif isinstance(check, NdpEntryCheck):
            on = self.station(check, "on", check.on, needs_stack=True)
            if on is not None and on.guest is not None and on.guest.ipv6 is None:
                self.report(self.place(check, "on"), f"{on.interface} has no IPv6: give it ip6 (a list of "
                                                     "addresses, [] for the link-local alone)")
            elif on is not None:
                address = self.address(check, "ip", check.ip, "ipv6", on)
                if address is not None and address.version != 6:
                    self.report(self.place(check, "ip"), f"{check.ip} is an IPv4 address: the IPv6 neighbour "
                                                         "cache holds IPv6 ones (arp_entry checks IPv4)")
        elif isinstance(check, UdpReceivedCheck):
            self.station(check, "on", check.on, needs_stack=True)
            self.address(check, "from", check.from_)
        elif isinstance(check, ReachabilityCheck):
            self.reachability(check, self.pingalls)

    # -- addresses and names ----------------------------------------------------------------------------
    def unique_addresses(self) -> None:
        seen: dict[IPv4Address, str] = {}
        for station in sorted({s.interface: s for s in self.stations.values()}.values(), key=lambda s: s.interface):
            if station.guest is None or station.guest.interface is None:
                continue
            ip = station.guest.interface.ip
            if ip in seen:
                self.report(station.guest.where, f"duplicate address {ip} (also {seen[ip]})")
            seen.setdefault(ip, station.interface)

    def unique_names(self) -> None:
        """A guest action's name is its own: no other action (not even a send) may use it."""
        sends = {a.action.name for a in self.spec.scenario if isinstance(a.action, SendAction)} - {None}
        seen: dict[str, Where] = {}
        for step in self.spec.scenario:
            name = step.action.name if isinstance(step.action, GuestAction) else None
            if name is None:
                continue
            if name in seen or name in sends:
                also = f"line {seen[name].line}" if name in seen else "a send action"
                self.report(self.place(step.action, "name"), f"the name {name!r} is used by two actions (also {also})")
            seen.setdefault(name, step.where)


def check_guests(spec: TopologySpec, document: Document) -> list[str]:
    """Report every problem of the guest actions and expectations of ``spec`` into ``document``; return the
    warnings (what is likely not meant, and runs anyway)."""
    checker = _Checker(spec, document)
    checker.unique_addresses()
    checker.unique_names()
    sessions = {a.action.name for a in spec.scenario if isinstance(a.action, SessionAction) and a.action.name}
    for step in spec.scenario:
        checker.action(step.action)
        if isinstance(step.action, ExpectAction):
            checker.expectation(step.action.check, sessions)
    for expectation in spec.expectations:
        checker.expectation(expectation.check, sessions)
    return checker.warnings
