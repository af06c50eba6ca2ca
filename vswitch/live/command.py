"""``vswitch live FILE``: run a topology against the wall clock, with real stations attached (docs/live.md), and
``vswitch live-cleanup``: remove what a killed live run left."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any, Callable, Iterator, Optional, Union

from ..core.errors import TopologyError
from ..core.units import format_duration
from ..kernel.command import seconds_argument
from ..l2.nic import NIC
from ..net.network import Network
from ..realtime import wall_clock_ns
from ..scenario.report import render
from ..scenario.context import RunResult
from ..scenario.report_json import as_json
from ..scenario.runner import ScenarioRunner
from ..topology.build import build_network
from ..topology.loader import load_topology
from ..topology.spec import AttachSpec, TopologySpec
from ..topology.yamlsource import check_file
from .devices import LiveDevices, check_interface, cleanup
from .pacer import run_paced
from .stations import LiveStation
from .vxlan import LiveTunnel, open_tunnels

#: What ``signal.signal`` takes and returns (None: a handler not installed from Python).
_Handler = Union[Callable[[int, Optional[FrameType]], Any], int, signal.Handlers, None]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: The pcapng's section comment (Wireshark: Statistics > Capture File Properties): what its timestamps are.
CAPTURE_COMMENT = ("written by vswitch live: timestamps are the wall clock (UTC) when each frame crossed the "
                   "emulated port, not virtual time")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="topology file (YAML)")
    parser.add_argument("--duration", type=seconds_argument, metavar="TIME",
                        help="run this long on the wall clock, e.g. 30s (default: the file's until, else until Ctrl-C)")
    parser.add_argument("--out", metavar="DIR", help="folder for the captures (default: pcaps/<topology name>-live/)")
    parser.add_argument("--no-pcapng", action="store_true", help="write only the per-point classic pcaps")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    parser.add_argument("--quiet", action="store_true", help="print only failures and the summary line")


def attachments(spec: TopologySpec) -> Iterator[tuple[str, AttachSpec, str | None]]:
    """(interface, attach, ip) of every station the file attaches, in file order; two on one namespace, or on one
    device (a TAP and an interface share the names of the host's links), are refused."""
    seen: dict[tuple[str, str], str] = {}
    found = [(f"{h.name}.{n.name}", n.attach, n.guest) for h in spec.hosts for n in h.nics]
    found += [(f"{vm.name}.eth0", vm.attach, vm.guest) for hv in spec.hypervisors for vm in hv.vms]
    for interface, attach, guest in found:
        if attach is None:
            continue
        key = ("netns" if attach.kind == "netns" else "link", attach.name)
        if key in seen:
            what = "namespace" if attach.kind == "netns" else "interface"
            raise TopologyError(f"{attach.where}: {interface}: {what} {attach.name!r} is already attached to "
                                f"{seen[key]}: give each station its own")
        seen[key] = interface
        yield interface, attach, str(guest.interface) if guest and guest.interface else None


class _StopRequest:
    """Ctrl-C, SIGTERM or SIGHUP during the run: end it where it is, with its report (once)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, _Handler] = {}

    def __enter__(self) -> _StopRequest:
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def __call__(self) -> bool:
        return self.requested


def run(args: argparse.Namespace) -> int:
    check_file(args.file)
    spec = load_topology(args.file)
    planned = list(attachments(spec))
    duration = args.duration if args.duration is not None else (
        spec.until_ns / 1e9 if spec.until_ns is not None else None)
    out_dir = Path(args.out) if args.out else Path("pcaps") / f"{spec.name}-live"
    live_spec = replace(spec, epoch_ns=wall_clock_ns())  # captures carry wall-clock timestamps
    stations: list[LiveStation | LiveTunnel] = []
    with LiveDevices() as devices, _StopRequest() as stop:
        net = build_network(live_spec, capture_dir=out_dir, pcapng=not args.no_pcapng, record=False,
                            capture_comment=CAPTURE_COMMENT)
        try:
            # VXLAN ports' sockets (vxlan.py), read and closed as stations are; first: a port taken makes nothing
            stations += open_tunnels(live_spec, net)
            for interface, attach, ip in planned:
                nic = net.nic(interface)
                assert isinstance(nic, NIC)
                station = _attach(devices, nic, attach, ip)
                nic.stack = station  # the real stack answers in place of vswitch's own
                stations.append(station)
            runner = ScenarioRunner(live_spec, net)
            _announce(net, planned, duration)
            run_paced(net, stations, duration, stop)
            result = runner.finish()
        finally:
            for source in stations:
                source.close()
            net.close()
    _print(args, net, result, out_dir)
    return 0 if result.passed else 1


def _attach(devices: LiveDevices, nic: NIC, attach: AttachSpec, ip: str | None) -> LiveStation:
    """The real device of one attached station, made (a namespace with its veth, a TAP) or found (an interface)."""
    if attach.kind == "netns":
        made = devices.add_netns_station(attach.name, str(nic.mac), ip)
        return LiveStation(nic, made.outside, made.hub)
    if attach.kind == "tap":
        return LiveStation(nic, devices.add_tap(attach.name), None)
    return LiveStation(nic, check_interface(attach.name), None, promiscuous=True)


def _announce(net: Network, planned: list[tuple[str, AttachSpec, str | None]], duration: float | None) -> None:
    for interface, attach, ip in planned:
        if attach.kind == "netns":
            said = f"namespace {attach.name} (eth0{', ' + ip if ip else ''}): ip netns exec {attach.name} ..."
        elif attach.kind == "tap":
            said = (f"TAP {attach.name}: qemu-system-x86_64 ... -netdev tap,id=n0,ifname={attach.name},script=no,"
                    f"downscript=no,vnet_hdr=off -device e1000,netdev=n0,mac={net.nic(interface).mac}")
        else:
            said = f"interface {attach.name}"
        print(f"live: {interface} is {said}", file=sys.stderr)
    until = f"for {format_duration(int(duration * 1e9))}" if duration is not None else "until Ctrl-C"
    print(f"live: running {until}", file=sys.stderr, flush=True)


def _print(args: argparse.Namespace, net: Network, result: RunResult, out_dir: Path) -> None:
    if args.format == "json":
        print(json.dumps(as_json(net, result), indent=2))
    else:
        print(render(net, result, quiet=args.quiet))
        if net.captures.files and not args.quiet:
            print(f"captures: {len(net.captures.files)} files in {out_dir}/ (wall-clock timestamps)")


def add_cleanup_arguments(parser: argparse.ArgumentParser) -> None:
    """No arguments: the state files say what to remove."""


def run_cleanup(args: argparse.Namespace) -> int:
    removed = cleanup()
    print("\n".join(f"removed {what}" for what in removed) or "nothing to remove")
    return 0
