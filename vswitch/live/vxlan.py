"""A VXLAN port's UDP socket in ``vswitch live``: datagrams to and from the remote VTEPs (docs/live.md).

The socket is bound to the port's ``local`` address and UDP ``port`` in the namespace ``vswitch live`` runs in
(``ip netns exec NS vswitch live ...`` runs it in NS), or in the existing namespace the port's ``netns`` names (a
socket stays in the namespace it was made in): the kernel adds and removes the outer IPv4 and UDP headers,
and vswitch the VXLAN header (``l2/vxlan.py``). Every datagram leaves from ``local:port``, 4789 by default: RFC
7348's source port hashed per flow is a SHOULD for ECMP underlays, and Linux accepts any.
"""

from __future__ import annotations

import socket
import sys
from typing import Any, Callable, Iterator, Optional

from ..kernel.netns import in_netns
from ..l2.port import Port
from ..l2.vxlan import VxlanEndpoint
from ..net.network import Network
from ..topology.spec import TopologySpec, VxlanSpec
from .devices import LiveError
from .sockets import drain

MAX_DATAGRAM = 65535


class LiveTunnel:
    """The underlay of one VXLAN port. The pacer reads it as it reads a station: ``read`` returns the inner
    frames, which it transmits from ``nic.port`` (here the endpoint's port, towards the switch)."""

    def __init__(self, endpoint: VxlanEndpoint, tunnel: VxlanSpec, clock: Callable[[], int]) -> None:
        self.nic = endpoint  # the pacer's name for the node whose port the frames read here leave from
        self.udp_port = tunnel.udp_port
        self.clock = clock
        self.sock = _socket_in(tunnel)
        try:
            self.sock.bind((tunnel.local, tunnel.udp_port))
        except OSError as exc:
            self.sock.close()
            raise LiveError(f"{tunnel.where}: cannot listen on {tunnel.local} port {tunnel.udp_port}: "
                            f"{exc.strerror or exc}: local must be an address of this machine (of the namespace "
                            f"{tunnel.netns or 'vswitch live runs in'}), and the port free (a Linux vxlan device "
                            "may hold it)") from None
        self.sock.setblocking(False)
        endpoint.transport = self._send

    def _send(self, remote: str, payload: bytes) -> bool:
        try:
            self.sock.sendto(payload, (remote, self.udp_port))
        except OSError:  # no route to the remote, a full socket buffer: lost as on a wire (the endpoint counts it)
            return False
        return True

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self) -> list[bytes]:
        """The inner frames of every datagram of this VNI that arrived since the last call."""
        return drain(self.sock, MAX_DATAGRAM, self._inner_frame)

    def _inner_frame(self, payload: bytes, address: Any) -> Optional[bytes]:
        return self.nic.arrived(payload, address[0], self.clock())  # address: (source IPv4, its UDP port)

    def close(self) -> None:
        self.sock.close()

    def __repr__(self) -> str:
        return f"<LiveTunnel {self.nic.name} udp {self.udp_port}>"


def _socket_in(tunnel: VxlanSpec) -> socket.socket:
    """A UDP socket in the tunnel's namespace (``netns``: one the user made), else in the run's own."""
    if tunnel.netns is None:
        return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with in_netns(tunnel.netns):
            return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    except OSError:
        raise LiveError(f"{tunnel.where}: network namespace {tunnel.netns!r} does not exist: the tunnel's socket "
                        f"is bound in a namespace you made (ip netns add {tunnel.netns}, with {tunnel.local} on one "
                        "of its interfaces)") from None


def tunnels(spec: TopologySpec) -> Iterator[tuple[str, VxlanSpec]]:
    """(switch port, tunnel) of every VXLAN port of the file, in file order."""
    for switch in spec.switches:
        for port, tunnel in switch.vxlan:
            yield f"{switch.name}.{port}", tunnel


def open_tunnels(spec: TopologySpec, net: Network) -> list[LiveTunnel]:
    """A socket for each VXLAN port of ``net`` (built from ``spec``), each said on stderr; on a failure the ones
    opened are closed."""
    opened: list[LiveTunnel] = []
    try:
        for name, tunnel in tunnels(spec):
            wire = net.port(name).peer  # build_network wired the port to its endpoint
            assert isinstance(wire, Port) and isinstance(wire.node, VxlanEndpoint)
            opened.append(LiveTunnel(wire.node, tunnel, lambda: net.engine.now))
            print(f"live: {name} is a VXLAN port: {describe(tunnel)}", file=sys.stderr)
    except BaseException:
        for tunnel_socket in opened:
            tunnel_socket.close()
        raise
    return opened


def describe(tunnel: VxlanSpec) -> str:
    """``VNI 42 on 10.0.0.1:4789 -> 10.0.0.2, 10.0.0.3`` for the run's first lines."""
    return f"VNI {tunnel.vni} on {tunnel.local}:{tunnel.udp_port} -> {', '.join(tunnel.remotes)}"
