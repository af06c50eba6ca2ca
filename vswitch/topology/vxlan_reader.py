"""Read a switch port's ``vxlan:`` key, which makes the port a VXLAN tunnel endpoint (docs/topology.md, docs/live.md).

``vxlan: {local: IP, remote: IP or [IPs], vni: N, port: 4789, netns: NAME}``: in ``vswitch live`` the port's
frames travel as UDP datagrams between ``local`` (in namespace NAME, if given) and the remote VTEPs
(``l2/vxlan.py``, ``live/vxlan.py``); in ``vswitch run`` the tunnel has no far end and frames leaving the port are
counted as sent into it. The file-wide checks (no link on a VXLAN port, one port per socket) are
``vxlan_problems``'.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Optional

from ..l2.vxlan import MAX_VNI, VXLAN_PORT
from .fields import where
from .live_reader import netns_name
from .spec import TopologySpec, VxlanSpec, Where
from .yamlreader import MapReader, describe, integer_between


def vtep_address(value: object) -> str:
    """A VTEP's IPv4 address: unicast, as text (``192.0.2.1``)."""
    if not isinstance(value, str):
        raise ValueError(f"expected an IPv4 address as text, got {describe(value)}, e.g. local: 10.0.0.1")
    try:
        address = IPv4Address(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 address, e.g. 10.0.0.1 (IPv6 underlays are not supported)") \
            from None
    if address.is_multicast:
        raise ValueError(f"{address} is a multicast group: vswitch sends to each remote VTEP by unicast; "
                         "list their addresses, e.g. remote: [10.0.0.2, 10.0.0.3]")
    if address.is_unspecified or address == IPv4Address("255.255.255.255"):
        raise ValueError(f"{address} is not a VTEP's address: give a unicast IPv4 address, e.g. 10.0.0.1")
    return str(address)


def read_vxlan(r: MapReader) -> Optional[VxlanSpec]:
    """The ``vxlan`` key of a switch port's mapping; None without it (or when it has mistakes, reported)."""
    if "vxlan" not in r.mapping:
        return None
    v = r.take_map("vxlan")
    local = v.take("local", vtep_address)
    if isinstance(v.mapping.get("remote"), list):
        remotes = v.take_list("remote", vtep_address)
        if not remotes and "remote" in v.mapping:
            v.error("remote", "give at least one remote VTEP, e.g. remote: 10.0.0.2")
    else:
        remote = v.take("remote", vtep_address)
        remotes = [remote] if remote is not None else []
    vni = v.take("vni", integer_between(0, MAX_VNI))
    udp_port = v.take("port", integer_between(1, 65535), default=VXLAN_PORT)
    netns = v.take("netns", netns_name, default=None)  # an existing namespace to bind the socket in
    for i, remote in enumerate(remotes):
        if remote == local:
            v.error("remote", f"{remote} is the local address: the remotes are the other VTEPs")
        elif remote in remotes[:i]:
            v.error("remote", f"{remote} is listed twice")
    v.finish()
    if local is None or not remotes or vni is None or udp_port is None:
        return None
    return VxlanSpec(local, tuple(remotes), vni, udp_port, where(r, "vxlan"), netns)


def vxlan_problems(spec: TopologySpec) -> list[tuple[Where, str]]:
    """(place, message) for each VXLAN port with a link (the tunnel is its cable) and each second port on one UDP
    socket (namespace, local address and port)."""
    problems = []
    ports = {f"{sw.name}.{port}": tunnel for sw in spec.switches for port, tunnel in sw.vxlan}
    sockets: dict[tuple[str | None, str, int], str] = {}
    for name, tunnel in ports.items():
        key = (tunnel.netns, tunnel.local, tunnel.udp_port)
        if key in sockets:
            problems.append((tunnel.where, f"{name} and {sockets[key]} both listen on {tunnel.local} port "
                                           f"{tunnel.udp_port}: give each VXLAN port its own local address or port"))
        sockets.setdefault(key, name)
    for link in spec.links:
        for end in (link.a, link.b):
            if end in ports:
                problems.append((link.where, f"{end} is a VXLAN port: the tunnel is its cable; link another port "
                                 f"(e.g. {end.split('.', 1)[0]}, its next free port)"))
    return problems
