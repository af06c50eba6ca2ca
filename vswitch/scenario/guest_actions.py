"""Carry out guest actions and evaluate guest expectations during a scenario run.

``ScenarioRunner`` looks actions up in ``PERFORMERS`` and expectations in ``CHECKS``; both receive the run's
``ScenarioContext`` (its ``net``, ``spec`` and ``result``) and the arguments ``guest_reader.py`` read. Sessions (ping, arping, udp),
replays and migrations land in the run result for reports; a replay that stopped early adds a warning.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any, Callable

from ..core.errors import ScenarioError
from ..core.mac import MACAddress
from ..guests.inet import looks_like_address
from ..guests.migrate import AnnounceParams, migrate
from ..guests.replay import Replay, ReplayResult
from ..guests.sessions import ArpingSession, PingSession, UdpSession, format_loss, loss_matches
from ..guests.stackdriver import StackDriver, stack_of
from ..guests.stream import StreamSpec, period_ns
from ..guests.traffic import action_frame
from ..l2.vlan import push_tags
from ..net.network import Network
from ..topology.guest_check import replay_path
from ..topology.spec import ActionSpec
from .context import ScenarioContext

FIRST_PING_IDENT = 0x1000
FIRST_UDP_PORT = 40000


def interface_of(net: Network, name: str) -> str:
    """A guest action may name a hypervisor for its own interface: ``hv1`` is ``hv1.host``."""
    return f"{name}.host" if name in net.hypervisors else name


def address_of(net: Network, text: str) -> IPv4Address:
    """An address written as such, or the address of the named interface's stack."""
    if looks_like_address(text):
        return IPv4Address(text)
    return stack_of(net, interface_of(net, text)).guest.ip


def _driver(runner: ScenarioContext, name: str) -> StackDriver:
    return stack_of(runner.net, interface_of(runner.net, name))


def _count_sessions(runner: ScenarioContext, kind: str, source: str) -> int:
    return sum(1 for s in runner.result.sessions.values() if s.kind == kind and s.source == source)


# -- actions ------------------------------------------------------------------------------------------
def perform_ping(runner: ScenarioContext, action: ActionSpec) -> None:
    args, net = action.args, runner.net
    driver = _driver(runner, args["from"])
    source = driver.nic.full_name
    session = PingSession(args["name"], source, args["to"], address_of(net, args["to"]), args["count"],
                          args["timeout_ns"], ident=FIRST_PING_IDENT + _count_sessions(runner, "ping", source),
                          size=args["size"], interval_ns=args["interval_ns"])
    runner.result.sessions[session.name] = session
    template, start, interval = driver.guest.ping_template(session), net.now, args["interval_ns"]
    driver.repeat(session.count, lambda i: start + i * interval,
                  lambda i, now: driver.guest.ping_send(session, i + 1, now, template))  # icmp_seq from 1


def perform_arping(runner: ScenarioContext, action: ActionSpec) -> None:
    args, net = action.args, runner.net
    driver = _driver(runner, args["from"])
    session = ArpingSession(args["name"], driver.nic.full_name, args["to"], address_of(net, args["to"]),
                            args["count"], args["timeout_ns"], interval_ns=args["interval_ns"])
    runner.result.sessions[session.name] = session
    start, interval = net.now, args["interval_ns"]
    driver.repeat(session.count, lambda i: start + i * interval,
                  lambda i, now: driver.guest.arping_send(session, i + 1, now))


def perform_udp(runner: ScenarioContext, action: ActionSpec) -> None:
    args, net = action.args, runner.net
    driver = _driver(runner, args["from"])
    source = driver.nic.full_name
    sport = args["sport"] or FIRST_UDP_PORT + _count_sessions(runner, "udp", source)
    session = UdpSession(args["name"], source, args["to"], address_of(net, args["to"]), args["count"],
                         args["timeout_ns"], sport=sport, dport=args["port"], size=args["size"])
    runner.result.sessions[session.name] = session
    template = driver.guest.udp_template(session)
    period = period_ns(interval_ns=args["interval_ns"], pps=args["pps"], bps=args["bps"], frame_len=len(template))
    start = net.now
    driver.repeat(session.count, lambda i: start + int(i * period),
                  lambda i, now: driver.guest.udp_send(session, i, now, template))


def perform_stream(runner: ScenarioContext, action: ActionSpec) -> None:
    args, net = action.args, runner.net
    sender = net.nic(interface_of(net, args["from"]))
    to_mac = net.nic(interface_of(net, args["to"])).mac if args["to"] is not None else None
    template = action_frame(args, sender.mac, to_mac)
    tags = args.get("vlan", ())
    spec = StreamSpec(sender.full_name, push_tags(template, tags), args["count"], args["vary"], "udp" in args,
                      interval_ns=args["interval_ns"], pps=args["pps"], bps=args["bps"], tags=len(tags))
    runner.result.streams[args["name"]] = {"name": args["name"], "from": sender.full_name, "frames": args["count"],
                                           "frame size": len(spec.template),
                                           "varying": ", ".join(v.field for v in args["vary"]) or "-"}
    net.send_stream(spec.frames(net.now))


def perform_replay(runner: ScenarioContext, action: ActionSpec) -> None:
    args, net = action.args, runner.net
    how = "into" if args["into"] is not None else "from"
    target = net.port(args["into"]).full_name if how == "into" else net.nic(interface_of(net, args["from"])).full_name
    result = ReplayResult(args["name"], args["file"], target, how)
    result.ids = runner.frames_named(result.name)  # its observers watch each frame as the replay sends it
    replay = Replay(net, str(replay_path(runner.spec, args["file"])), result, count=args["count"],
                    interval_ns=args["interval_ns"], pps=args["pps"], bps=args["bps"])
    runner.result.replays.append(result)
    runner.guest_jobs.append((action, replay))
    replay.start()


def perform_migrate(runner: ScenarioContext, action: ActionSpec) -> None:
    args = action.args
    result = migrate(runner.net, args["vm"], args["to"], name=args["name"], announce=args["announce"],
                     downtime_ns=args["downtime_ns"], mode=args["mode"], params=AnnounceParams(rounds=args["rounds"]))
    runner.result.migrations.append(result)
    ids = runner.frames_named(result.name)
    for frame_id in result.ids:
        ids.append(frame_id)
    result.ids = ids  # the announcements, sent when the VM resumes, go under the name (and its watchers)


def check(runner: ScenarioContext, action: ActionSpec) -> None:
    """Resolve an action's names on the built network before the run (the loader checked the file already)."""
    args, net = action.args, runner.net
    if action.kind in ("ping", "arping", "udp"):
        _driver(runner, args["from"])
        address_of(net, args["to"])
    elif action.kind == "stream":
        net.nic(interface_of(net, args["from"]))
        if args["to"] is not None:
            net.nic(interface_of(net, args["to"]))
    elif action.kind == "replay":
        if args["into"] is not None:
            net.port(args["into"])
        else:
            net.nic(interface_of(net, args["from"]))
    elif action.kind == "migrate":
        if args["vm"] not in net.vnics or args["to"] not in net.hypervisors:
            raise ScenarioError(f"no VM {args['vm']!r} or no hypervisor {args['to']!r}")


PERFORMERS: dict[str, Callable[[ScenarioContext, ActionSpec], None]] = {
    "ping": perform_ping, "arping": perform_arping, "udp": perform_udp, "stream": perform_stream,
    "replay": perform_replay, "migrate": perform_migrate,
}


def finish(runner: ScenarioContext) -> None:
    """After the run: close replays still reading (the run ended first) and collect their warnings."""
    for action, replay in runner.guest_jobs:
        replay.finish(run_ended=True)
        warning = replay.result.warning()
        if warning:
            runner.result.warnings.append(f"{action.where}: {warning}")


# -- expectations -------------------------------------------------------------------------------------
def check_ping(runner: ScenarioContext, args: dict[str, Any]) -> tuple[str, bool, str]:
    name = args["name"]
    session = runner.result.sessions.get(name)
    if session is None:
        raise ScenarioError(f"{name} has not started yet")
    wanted, passed = [], True
    if args["succeeds"] is not None:
        wanted.append("succeeds" if args["succeeds"] else "fails")
        passed &= session.succeeded == args["succeeds"]
    if args["transmitted"] is not None:
        wanted.append(f"{args['transmitted']} transmitted")
        passed &= session.transmitted == args["transmitted"]
    if args["received"] is not None:
        wanted.append(f"{args['received']} received")
        passed &= session.received == args["received"]
    if args["loss"] is not None:
        wanted.append(f"{args['loss']}% loss")
        passed &= loss_matches(session.loss, args["loss"])
    actual = (f"{session.transmitted} transmitted, {session.received} received, {format_loss(session.loss)} loss"
              + (f", {session.errors} errors" if session.errors else ""))
    return f"{session.kind} {name} {', '.join(wanted)}", passed, actual


def check_arp_entry(runner: ScenarioContext, args: dict[str, Any]) -> tuple[str, bool, str]:
    net = runner.net
    driver = _driver(runner, args["on"])
    ip = address_of(net, args["ip"])
    mac = driver.guest.arp.lookup(ip.packed, net.now)
    actual = f"{ip} at {MACAddress(mac)}" if mac else f"no entry for {ip}"
    owner = driver.nic.full_name
    if args["absent"]:
        return f"{owner} has no ARP entry for {ip}", mac is None, actual
    wanted = args["mac"]
    if wanted is None and not looks_like_address(args["ip"]):
        wanted = net.nic(interface_of(net, args["ip"])).mac
    if wanted is None:
        return f"{owner} has an ARP entry for {ip}", mac is not None, actual
    return f"{owner} has {ip} at {wanted}", mac == wanted.packed, actual


def check_udp_received(runner: ScenarioContext, args: dict[str, Any]) -> tuple[str, bool, str]:
    net = runner.net
    driver = _driver(runner, args["on"])
    source = str(address_of(net, args["from"])) if args["from"] else None
    got = sum(n for (src, port), n in driver.guest.udp_received.items()
              if (source is None or src == source) and (args["port"] is None or port == args["port"]))
    what = "datagrams" + (f" to port {args['port']}" if args["port"] else "") + (f" from {source}" if source else "")
    if args["count"] is None:
        return f"{driver.nic.full_name} received UDP {what}", got > 0, f"{got} received"
    return f"{driver.nic.full_name} received {args['count']} UDP {what}", got == args["count"], f"{got} received"


CHECKS: dict[str, Callable[[ScenarioContext, dict[str, Any]], tuple[str, bool, str]]] = {
    "ping": check_ping, "arp_entry": check_arp_entry, "udp_received": check_udp_received,
}
