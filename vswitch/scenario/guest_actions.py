"""Carry out guest actions and evaluate guest expectations during a scenario run.

Each function is the row of its action or expectation class in ``registry.py``; it receives the run's
``ScenarioContext`` (its ``net``, ``spec`` and ``result``) and the value ``guest_reader.py`` read. Sessions (ping,
arping, udp), replays and migrations land in the run result for reports; a replay that stopped early adds a
warning.
"""

from __future__ import annotations

from ipaddress import IPv6Address
from typing import Any

from ..core.errors import ScenarioError
from ..core.mac import MACAddress
from ..guests.inet import looks_like_address
from ..guests.inet6 import AnyAddress, any_address_value, looks_like_ipv6, reach6, session_family
from ..guests.migrate import AnnounceParams, migrate
from ..guests.replay import Replay, ReplayResult
from ..guests.sessions import ArpingSession, PingSession, UdpSession, format_loss, loss_matches
from ..guests.stackdriver import StackDriver, stack_of
from ..guests.stream import StreamSpec, period_ns
from ..guests.traffic import action_frame
from ..l2.vlan import push_tags
from ..net.network import Network
from ..topology.build import move_io
from ..topology.guest_check import replay_path
from ..topology.guest_expectations import ArpEntryCheck, NdpEntryCheck, PingCheck, UdpReceivedCheck
from ..topology.guest_reader import (ArpingAction, MigrateAction, PingAction, ReplayAction, SessionAction,
                                     StreamAction, UdpAction)
from ..topology.io_reader import io_after_move
from ..topology.spec import NamedAction, Where
from .context import ScenarioContext
from .registry import checks, performs, resolves

FIRST_PING_IDENT = 0x1000
FIRST_UDP_PORT = 40000


def interface_of(net: Network, name: str) -> str:
    """A guest action may name a hypervisor for its own interface: ``hv1`` is ``hv1.host``."""
    return f"{name}.host" if name in net.hypervisors else name


def address_of(net: Network, text: str, family: str | None = None, source: str | None = None) -> AnyAddress:
    """An address written as such, or the address of the named interface's stack: its IPv4 address, or with
    ``family`` ipv6 (or an IPv6-only end) the IPv6 address ``source`` (an interface) reaches it by (``reach6``)."""
    if looks_like_address(text) or looks_like_ipv6(text):
        return any_address_value(text)
    target = stack_of(net, interface_of(net, text)).guest
    sender = stack_of(net, interface_of(net, source)).guest if source is not None else None
    if session_family(family, sender is None or sender.ip is not None, target.ip is not None) == "ipv4":
        if target.ip is None:
            raise ScenarioError(f"{text} has no IPv4 address (it is IPv6-only)")
        return target.ip
    if sender is None and target.ipv6 is not None:  # no sender to reach it from: its first address
        return IPv6Address(target.ipv6.addresses[0])
    address = reach6(sender.ipv6.interfaces if sender is not None and sender.ipv6 is not None else [],
                     target.ipv6.interfaces if target.ipv6 is not None else [])
    if address is None:
        raise ScenarioError(f"{text} has no IPv6 address {source or 'one'} reaches (give both ip6)")
    return address


def addresses_of(net: Network, text: str) -> set[str]:
    """An address written as such, or every address of the named interface's stack (IPv4 and IPv6), as text."""
    if looks_like_address(text) or looks_like_ipv6(text):
        return {str(any_address_value(text))}
    guest = stack_of(net, interface_of(net, text)).guest
    own = {str(IPv6Address(a)) for a in guest.ipv6.addresses} if guest.ipv6 is not None else set()
    return own | ({str(guest.ip)} if guest.ip is not None else set())


def sender_of(driver: StackDriver, session: Any) -> Any:
    """The half of the driver's stack that sends ``session``: IPv4, or IPv6 for an IPv6 destination."""
    return driver.guest if session.dst_ip.version == 4 else ipv6_of(driver)


def ipv6_of(driver: StackDriver) -> Any:
    """The IPv6 half (``Ipv6Stack``) of the driver's stack; a ScenarioError without one."""
    if driver.guest.ipv6 is None:
        raise ScenarioError(f"{driver.nic.full_name} has no IPv6: give it ip6 (a list of addresses, [] for the "
                            "link-local alone)")
    return driver.guest.ipv6


def driver_of(runner: ScenarioContext, name: str) -> StackDriver:
    """The stack driver of the interface ``name`` (a hypervisor's name: its own interface)."""
    return stack_of(runner.net, interface_of(runner.net, name))


def name_of(action: NamedAction) -> str:
    """The action's name: the reader names every guest action (``guest_reader.name_actions``); one built in
    Python without a name has nothing to be reported under."""
    if action.name is None:
        raise ScenarioError(f"a {action.kind} action needs a name (give name=...)")
    return action.name


def _name_probes(runner: ScenarioContext, driver: StackDriver, session: Any) -> None:
    """Put the session's probes under its name when something watches that name (``vswitch explain NAME``):
    their ids interleave with the answers, so keeping them for every run would grow with the count."""
    if session.name in runner.watchers:
        driver.name_frames(session, runner.frames_named(session.name).append)


def _count_sessions(runner: ScenarioContext, kind: str, source: str) -> int:
    return sum(1 for s in runner.result.sessions.values() if s.kind == kind and s.source == source)


def ping_idents_used(runner: ScenarioContext, source: str) -> int:
    """How many ping sessions ``source`` started so far, its pingall pairs included: the next one's ICMP
    identifier is ``FIRST_PING_IDENT`` plus this (a pair's IPv4 and IPv6 sessions share one)."""
    in_pingalls = sum(1 for result in runner.result.reachability
                      for s in {**result.sessions6, **result.sessions}.values() if s.source == source)
    return _count_sessions(runner, "ping", source) + in_pingalls


# -- actions ------------------------------------------------------------------------------------------
@performs(PingAction)
def perform_ping(runner: ScenarioContext, action: PingAction, where: Where) -> None:
    net = runner.net
    driver = driver_of(runner, action.from_)
    source = driver.nic.full_name
    session = PingSession(name_of(action), source, action.to, address_of(net, action.to, action.family, source),
                          action.count, action.timeout_ns, ident=FIRST_PING_IDENT + ping_idents_used(runner, source),
                          size=action.size, interval_ns=action.interval_ns)
    runner.result.sessions[session.name] = session
    _name_probes(runner, driver, session)
    stack = sender_of(driver, session)
    template, send = stack.ping_template(session), stack.ping_send
    driver.repeat(session.count, net.now, action.interval_ns,
                  lambda i, now: send(session, i + 1, now, template))  # icmp_seq from 1


@performs(ArpingAction)
def perform_arping(runner: ScenarioContext, action: ArpingAction, where: Where) -> None:
    net = runner.net
    driver = driver_of(runner, action.from_)
    session = ArpingSession(name_of(action), driver.nic.full_name, action.to, address_of(net, action.to),
                            action.count, action.timeout_ns, interval_ns=action.interval_ns)
    runner.result.sessions[session.name] = session
    _name_probes(runner, driver, session)
    send = driver.guest.arping_send
    driver.repeat(session.count, net.now, action.interval_ns, lambda i, now: send(session, i + 1, now))


@performs(UdpAction)
def perform_udp(runner: ScenarioContext, action: UdpAction, where: Where) -> None:
    net = runner.net
    driver = driver_of(runner, action.from_)
    source = driver.nic.full_name
    sport = action.sport or FIRST_UDP_PORT + _count_sessions(runner, "udp", source)
    session = UdpSession(name_of(action), source, action.to, address_of(net, action.to, action.family, source),
                         action.count, action.timeout_ns, sport=sport, dport=action.port, size=action.size)
    runner.result.sessions[session.name] = session
    _name_probes(runner, driver, session)
    stack = sender_of(driver, session)
    template = stack.udp_template(session)
    period = period_ns(interval_ns=action.interval_ns, pps=action.pps, bps=action.bps, frame_len=len(template))
    send = stack.udp_send
    driver.repeat(session.count, net.now, period, lambda i, now: send(session, i, now, template))


@performs(StreamAction)
def perform_stream(runner: ScenarioContext, action: StreamAction, where: Where) -> None:
    net = runner.net
    sender = net.nic(interface_of(net, action.from_))
    to_mac = net.nic(interface_of(net, action.to)).mac if action.to is not None else None
    template = action_frame(sender.mac, to_mac, dst=action.dst, src=action.src, ethertype=action.ethertype,
                            size=action.size, udp=action.udp)
    spec = StreamSpec(sender.full_name, push_tags(template, action.vlan), action.count, action.vary,
                      action.udp is not None, interval_ns=action.interval_ns, pps=action.pps, bps=action.bps,
                      tags=len(action.vlan))
    name = name_of(action)
    runner.result.streams[name] = {"name": name, "from": sender.full_name, "frames": action.count,
                                   "frame size": len(spec.template),
                                   "varying": ", ".join(v.field for v in action.vary) or "-"}
    named = runner.frames_named(name).append if name in runner.watchers else None
    net.send_stream(spec.frames(net.now), on_frame=named)


def replay_sender(action: ReplayAction) -> str:
    """The NIC a replay without ``into`` sends from (the reader requires one of the two)."""
    if action.from_ is None:
        raise ScenarioError("a replay action needs into (a port the frames arrive at) or from (a NIC that sends them)")
    return action.from_


@performs(ReplayAction)
def perform_replay(runner: ScenarioContext, action: ReplayAction, where: Where) -> None:
    net = runner.net
    how = "into" if action.into is not None else "from"
    target = net.port(action.into).full_name if action.into is not None else \
        net.nic(interface_of(net, replay_sender(action))).full_name
    result = ReplayResult(name_of(action), action.file, target, how)
    result.ids = runner.frames_named(result.name)  # its observers watch each frame as the replay sends it
    replay = Replay(net, str(replay_path(runner.spec, action.file)), result, count=action.count,
                    interval_ns=action.interval_ns, pps=action.pps, bps=action.bps)
    runner.result.replays.append(result)
    runner.guest_jobs.append((where, replay))
    replay.start()


@performs(MigrateAction)
def perform_migrate(runner: ScenarioContext, action: MigrateAction, where: Where) -> None:
    result = migrate(runner.net, action.vm, action.to, name=name_of(action), announce=action.announce,
                     downtime_ns=action.downtime_ns, mode=action.mode, params=AnnounceParams(rounds=action.rounds),
                     on_attach=lambda: _move_io(runner, action.vm, action.to), guest_announce=action.guest_announce)
    runner.result.migrations.append(result)
    ids = runner.frames_named(result.name)
    for frame_id in result.ids:
        ids.append(frame_id)
    result.ids = ids  # the announcements, sent when the VM resumes, go under the name (and its watchers)


def _move_io(runner: ScenarioContext, vm: str, target: str) -> None:
    """The migrated ``vm`` takes ``target``'s default I/O model, except for the ``io`` keys it sets itself."""
    spec = runner.spec
    own = next((v.io for hv in spec.hypervisors for v in hv.vms if v.name == vm), None)
    destination = next((hv.io for hv in spec.hypervisors if hv.name == target), None)
    move_io(runner.net.vnics[vm].port, vm, io_after_move(own, destination))


# -- names, resolved on the built network before the run (the loader checked the file already) ----------
@resolves(PingAction, ArpingAction, UdpAction)
def _resolve_session(runner: ScenarioContext, action: SessionAction) -> None:
    source = driver_of(runner, action.from_).nic.full_name
    address_of(runner.net, action.to, action.family, source)


@resolves(StreamAction)
def _resolve_stream(runner: ScenarioContext, action: StreamAction) -> None:
    net = runner.net
    net.nic(interface_of(net, action.from_))
    if action.to is not None:
        net.nic(interface_of(net, action.to))


@resolves(ReplayAction)
def _resolve_replay(runner: ScenarioContext, action: ReplayAction) -> None:
    net = runner.net
    if action.into is not None:
        net.port(action.into)
    else:
        net.nic(interface_of(net, replay_sender(action)))


@resolves(MigrateAction)
def _resolve_migrate(runner: ScenarioContext, action: MigrateAction) -> None:
    net = runner.net
    if action.vm not in net.vnics or action.to not in net.hypervisors:
        raise ScenarioError(f"no VM {action.vm!r} or no hypervisor {action.to!r}")


def finish(runner: ScenarioContext) -> None:
    """After the run: close replays still reading (the run ended first) and collect their warnings."""
    for where, replay in runner.guest_jobs:
        replay.finish(run_ended=True)
        warning = replay.result.warning()
        if warning:
            runner.result.warnings.append(f"{where}: {warning}")


# -- expectations -------------------------------------------------------------------------------------
@checks(PingCheck)
def check_ping(runner: ScenarioContext, check: PingCheck) -> tuple[str, bool, str]:
    name = check.name
    session = runner.result.sessions.get(name)
    if session is None:
        raise ScenarioError(f"{name} has not started yet")
    wanted, passed = [], True
    cut_short = session.transmitted < session.count  # the run ended before the last request
    if check.succeeds is not None:
        wanted.append("succeeds" if check.succeeds else "fails")
        passed &= session.succeeded == check.succeeds and not (check.succeeds and cut_short)
    if check.transmitted is not None:
        wanted.append(f"{check.transmitted} transmitted")
        passed &= session.transmitted == check.transmitted
    if check.received is not None:
        wanted.append(f"{check.received} received")
        passed &= session.received == check.received
    if check.loss is not None:
        wanted.append(f"{check.loss}% loss")
        passed &= loss_matches(session.loss, check.loss)
    actual = (f"{session.transmitted} transmitted, {session.received} received, {format_loss(session.loss)} loss"
              + (f", {session.errors} errors" if session.errors else "")
              + (f" (sent {session.transmitted} of its {session.count} requests: the run ended first)"
                 if cut_short else ""))
    return f"{session.kind} {name} {', '.join(wanted)}", passed, actual


@checks(ArpEntryCheck)
def check_arp_entry(runner: ScenarioContext, check: ArpEntryCheck) -> tuple[str, bool, str]:
    net = runner.net
    driver = driver_of(runner, check.on)
    ip = address_of(net, check.ip, "ipv4")
    mac = driver.guest.arp.lookup(ip.packed, net.now)
    actual = f"{ip} at {MACAddress(mac)}" if mac else f"no entry for {ip}"
    owner = driver.nic.full_name
    if check.absent:
        return f"{owner} has no ARP entry for {ip}", mac is None, actual
    wanted = check.mac
    if wanted is None and not looks_like_address(check.ip):
        wanted = net.nic(interface_of(net, check.ip)).mac
    if wanted is None:
        return f"{owner} has an ARP entry for {ip}", mac is not None, actual
    return f"{owner} has {ip} at {wanted}", mac == wanted.packed, actual


@checks(NdpEntryCheck)
def check_ndp_entry(runner: ScenarioContext, check: NdpEntryCheck) -> tuple[str, bool, str]:
    net = runner.net
    driver = driver_of(runner, check.on)
    owner = driver.nic.full_name
    ip = address_of(net, check.ip, "ipv6", owner)
    row = next((r for r in ipv6_of(driver).neighbours.rows(net.now) if r.ip == str(ip)), None)
    actual = f"{ip} at {row.mac or '(no MAC)'} {row.state}" if row else f"no entry for {ip}"
    if check.absent:
        return f"{owner} has no neighbour entry for {ip}", row is None, actual
    wanted = check.mac
    if wanted is None and not looks_like_ipv6(check.ip) and check.state != "INCOMPLETE":  # that one has no MAC
        wanted = net.nic(interface_of(net, check.ip)).mac
    description = f"{owner} has {ip}" + (f" at {wanted}" if wanted else "") + (f" {check.state}" if check.state
                                                                              else "")
    passed = row is not None and (wanted is None or row.mac == str(wanted)) and check.state in (None, row.state)
    return description, passed, actual


@checks(UdpReceivedCheck)
def check_udp_received(runner: ScenarioContext, check: UdpReceivedCheck) -> tuple[str, bool, str]:
    net = runner.net
    driver = driver_of(runner, check.on)
    sources = addresses_of(net, check.from_) if check.from_ else None
    named = address_of(net, check.from_) if check.from_ else None
    source = None if named is None else str(named) if named.version == 4 or check.from_ == str(named) \
        else check.from_  # an IPv6-only sender by its name: any of its addresses counts
    got = sum(n for (src, port), n in driver.guest.udp_received.items()
              if (sources is None or src in sources) and (check.port is None or port == check.port))
    what = "datagrams" + (f" to port {check.port}" if check.port else "") + (f" from {source}" if source else "")
    if check.count is None:
        return f"{driver.nic.full_name} received UDP {what}", got > 0, f"{got} received"
    return f"{driver.nic.full_name} received {check.count} UDP {what}", got == check.count, f"{got} received"
