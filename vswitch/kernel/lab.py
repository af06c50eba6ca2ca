"""A throw-away kernel lab (the oracle of DESIGN.md section 6): Linux bridge, veth hosts, macvlan vNICs.

Builds namespaces and links with ``ip``/``bridge`` (root; ``netns``), injects raw frames through AF_PACKET
sockets on its endpoints (``frameio``) and reports which endpoints received each one. Names start with
``<prefix>_<pid, 5 base36><lab seq, 2>`` so that ``cleanup_leftovers`` can remove what a killed run left behind.

    with KernelLab("vsk") as lab:
        lab.add_host("h1", "02:00:00:00:01:01")
        lab.add_hypervisor("hv1", "02:00:00:00:00:01", "bridge", {"vm1": "52:54:00:00:00:01"}, hairpin=True)
        lab.inject("h1", kernelio.ether_frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:01:01")).receivers
        # {'hv1': 1, 'vm1': 1}

Beyond that one-switch lab, the parts compose: ``add_netns``, ``add_bridge`` (more switches, or a host bridge
inside a hypervisor), ``add_veth`` (a cable between any two namespaces), ``enslave`` (a bridge port),
``add_macvlan``, ``add_endpoint``/``remove_endpoint``, ``set_link`` (up/down), and for VLANs a VLAN-filtering
bridge (``add_bridge(vlan_protocol=...)``) with ``set_port_vlans``, and ``add_vlan_device`` (802.1Q or 802.1ad);
``vswitch.kernelcheck`` builds whole topology files this way. Readiness waits read the wall clock through
``realtime``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import struct
import threading
from contextlib import contextmanager
from typing import Iterable, Iterator, Mapping, NamedTuple

from ..core.mac import MACAddress
from ..realtime import now_s, sleep_s
from .frameio import FrameSockets, InjectResult, skb_protocol
from .netns import KernelLabError, in_netns, run_command

_RTM_NEWLINK, _NLM_F_REQUEST_ACK, _NETLINK_ROUTE = 16, 0x1 | 0x4, 0
_IFLA_LINKINFO, _IFLA_INFO_KIND, _IFLA_INFO_DATA, _IFLA_BR_FDB_MAX_LEARNED = 18, 1, 2, 49  # Linux 6.8+
MACVLAN_MODES = ("private", "vepa", "bridge", "passthru")
PORT_FLAGS = ("hairpin", "learning", "flood", "mcast_flood", "bcast_flood", "isolated")

_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,3}$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,11}$")
_seq = 0


def _b36(n: int, width: int) -> str:
    return "".join(_B36[n // 36**i % 36] for i in reversed(range(width)))


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold a Ctrl-C until the block (a teardown) has finished, then raise it."""
    pressed: list[int] = []
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, lambda *_: pressed.append(1)) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGINT, old)
    if pressed:
        raise KeyboardInterrupt


class Endpoint(NamedTuple):
    """A capture/injection point: ``kind`` is ``host`` (veth), ``adapter`` (hypervisor's lower veth) or ``vnic``."""
    name: str
    kind: str
    netns: str
    ifname: str
    mac: str
    node: str  # the host or hypervisor it belongs to


class FdbEntry(NamedTuple):
    mac: str
    port: str  # bridge port ifname
    is_static: bool
    node: str  # what is plugged into the port
    vlan: int | None = None  # on a VLAN-filtering bridge: the entry's VLAN


class KernelLab:
    """Context manager owning a switch namespace (bridge ``<tag>br``) and the hosts/hypervisors added to it.

    ``ageing_s=0`` makes the bridge learn nothing and flood everything (``br_fdb_update``)."""

    def __init__(self, prefix: str = "vsk", *, ageing_s: float = 300.0, mcast_snooping: bool = False,
                 settle_s: float = 0.02, max_wait_s: float = 1.0) -> None:
        global _seq
        if not _PREFIX_RE.match(prefix):
            raise KernelLabError(f"prefix {prefix!r}: 1-4 chars [a-z0-9], starting with a letter")
        self.tag = f"{prefix}_{_b36(os.getpid(), 5)}{_b36(_seq, 2)}"
        _seq += 1
        self.ageing_s, self.mcast_snooping = ageing_s, mcast_snooping
        self.settle_s, self.max_wait_s = settle_s, max_wait_s
        self.switch_ns, self.bridge = f"{self.tag}-sw", f"{self.tag}br"
        self.endpoints: dict[str, Endpoint] = {}
        self.bridges: dict[str, tuple[str, str]] = {}  # key -> (netns, ifname); "" is the lab's own bridge
        self.ports: dict[str, str] = {}  # port key (by default the node plugged in) -> bridge port ifname
        self.port_vlans: dict[str, frozenset[int]] = {}  # port key -> its VLANs, on a VLAN-filtering bridge
        self._filtering: set[str] = set()  # keys of the VLAN-filtering bridges
        self._port_at: dict[str, tuple[str, str]] = {}  # port key -> (netns, bridge key)
        self._where: dict[str, str] = {}  # lab device -> its netns
        self._under: dict[str, str] = {}  # veth -> its peer, macvlan -> its lower (readiness follows them)
        self._down: set[str] = set()  # devices set down on purpose: not waited for
        self._netns: list[str] = []
        self.sockets = FrameSockets()  # the AF_PACKET sockets of the endpoints, and the stray copies
        self._groups: dict[str, set[str]] = {}  # endpoint -> L2 multicast addresses on its device
        #: (endpoint, addresses) whose IPv6 waits for start_dad; None once it ran
        self._dad_pending: list[tuple[str, list[str]]] | None = []
        self._nif, self._ready = 0, False

    def __enter__(self) -> "KernelLab":
        try:
            self._add_netns(self.switch_ns)
            self.add_bridge("", ageing_s=self.ageing_s, mcast_snooping=self.mcast_snooping)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close sockets and delete every namespace (which destroys every link in them). Idempotent."""
        with _sigint_deferred():
            self.sockets.close()  # an open socket would keep its namespace, and the links in it, alive
            for ns in reversed(self._netns):
                run_command("ip", "netns", "del", ns, check=False)
            left, self._netns = [ns for ns in self._netns if os.path.exists(f"/run/netns/{ns}")], []
            if left:
                raise KernelLabError(f"teardown left namespaces {left}; see cleanup_leftovers()")

    def _add_netns(self, ns: str) -> None:
        self._netns.append(ns)  # before creating it: an interrupted add is still cleaned up
        run_command("ip", "netns", "add", ns)
        with in_netns(ns):  # IPv6 off before any link exists: no MLD/ND/RS chatter
            for conf in ("all", "default"):
                with open(f"/proc/sys/net/ipv6/conf/{conf}/disable_ipv6", "w") as f:
                    f.write("1")

    def _check_name(self, *names: str) -> None:
        for name in names:
            if not _NAME_RE.match(name):
                raise KernelLabError(f"name {name!r}: 1-12 chars [a-z0-9], starting with a letter")
            if name in self.endpoints or name in self.ports or names.count(name) > 1:
                raise KernelLabError(f"name {name!r} used twice in this lab")

    def _ifname(self, kind: str) -> str:
        self._nif += 1
        return f"{self.tag}{kind}{_b36(self._nif, 2)}"  # <= 15 chars with a 4-char prefix

    def add_netns(self, name: str) -> str:
        """A fresh namespace ``<tag>-<name>`` (IPv6 off)."""
        ns = f"{self.tag}-{name}"
        self._add_netns(ns)
        return ns

    def add_bridge(self, key: str, *, netns: str | None = None, ageing_s: float = 300.0,
                   mcast_snooping: bool = False, mac: str | None = None, vlan_protocol: str | None = None) -> str:
        """A Linux bridge (STP off) in ``netns`` (default: the switch namespace); returns its ifname. With
        ``vlan_protocol`` (802.1Q or 802.1ad) it filters VLANs; its ports, and itself, start as untagged members of
        VLAN 1 (the default PVID)."""
        if key in self.bridges:
            raise KernelLabError(f"bridge {key!r} exists")
        ns, dev = netns or self.switch_ns, self.bridge if key == "" else self._ifname("b")
        address = ("address", str(MACAddress(mac))) if mac else ()
        vlans = ("vlan_filtering", "1", "vlan_protocol", vlan_protocol) if vlan_protocol else ()
        run_command("ip", "-n", ns, "link", "add", dev, *address, "type", "bridge", "stp_state", "0",
             "ageing_time", str(round(ageing_s * 100)), "mcast_snooping", str(int(mcast_snooping)), *vlans)
        run_command("ip", "-n", ns, "link", "set", dev, "arp", "off", "up")
        self.bridges[key], self._where[dev] = (ns, dev), ns
        if vlan_protocol:
            self._filtering.add(key)
        return dev

    def set_fdb_max_learned(self, bridge: str, limit: int) -> None:
        """The bridge's ``fdb_max_learned`` (Linux 6.8+; set over rtnetlink: older iproute2 lacks it): once
        ``limit`` entries are learned, new sources are not (0 = no limit)."""
        ns, dev = self.bridges[bridge]

        def attr(kind: int, payload: bytes) -> bytes:
            return struct.pack("HH", 4 + len(payload), kind) + payload + b"\0" * (-len(payload) % 4)

        with in_netns(ns):
            index = socket.if_nametoindex(dev)
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_ROUTE)
        with sock:
            info = attr(_IFLA_INFO_KIND, b"bridge\0") + attr(
                _IFLA_INFO_DATA, attr(_IFLA_BR_FDB_MAX_LEARNED, struct.pack("I", limit)))
            body = struct.pack("BBHiII", socket.AF_UNSPEC, 0, 0, index, 0, 0) + attr(_IFLA_LINKINFO, info)
            sock.send(struct.pack("IHHII", 16 + len(body), _RTM_NEWLINK, _NLM_F_REQUEST_ACK, 1, 0) + body)
            error = -struct.unpack_from("i", sock.recv(65536), 16)[0]  # the ack: nlmsgerr.error
        if error:
            raise KernelLabError(f"fdb_max_learned {limit} on {dev}: {os.strerror(error)}")

    def add_veth(self, ns_a: str, ns_b: str, mac_a: str | None = None, mac_b: str | None = None,
                 kinds: str = "pe") -> tuple[str, str]:
        """A veth pair (a cable), one end in each namespace, both up; returns the two ifnames."""
        a, b = self._ifname(kinds[0]), self._ifname(kinds[1])
        mac = [("address", str(MACAddress(m))) if m else () for m in (mac_a, mac_b)]
        run_command("ip", "-n", ns_a, "link", "add", a, *mac[0], "type", "veth", "peer", "name", b, *mac[1],
                    "netns", ns_b)
        for ns, dev in ((ns_b, b), (ns_a, a)):
            run_command("ip", "-n", ns, "link", "set", dev, "arp", "off", "up")
        self._where.update({a: ns_a, b: ns_b})
        self._under.update({a: b, b: a})
        return a, b

    def enslave(self, key: str, ifname: str, bridge: str = "", **flags: bool) -> None:
        """Make ``ifname`` (in the bridge's namespace) a port of ``bridge``, known as port ``key``."""
        ns, dev = self.bridges[bridge]
        run_command("ip", "-n", ns, "link", "set", ifname, "master", dev)
        self.ports[key], self._port_at[key] = ifname, (ns, bridge)
        if bridge in self._filtering:
            self.port_vlans[key] = frozenset({1})  # the default PVID, untagged
        if flags:
            self.set_port(key, **flags)

    def set_port_vlans(self, key: str, pvid: int | None, vlans: Iterable[int], untagged: Iterable[int]) -> None:
        """Port ``key`` of a VLAN-filtering bridge carries ``vlans`` (and ``pvid``), ``untagged`` ones untagged on
        egress, and nothing else: ``bridge vlan del`` of the others (which forgets what it learned in them), then
        ``bridge vlan add`` of each with exactly its flags (an existing VLAN's flags are replaced)."""
        ns, dev = self._port_at[key][0], self.ports[key]
        wanted = frozenset(vlans) | (frozenset() if pvid is None else frozenset({pvid}))
        for vid in sorted(self.port_vlans[key] - wanted):
            run_command("bridge", "-n", ns, "vlan", "del", "dev", dev, "vid", str(vid))
        untagged = frozenset(untagged)
        for vid in sorted(wanted):
            flags = (("pvid",) if vid == pvid else ()) + (("untagged",) if vid in untagged else ())
            run_command("bridge", "-n", ns, "vlan", "add", "dev", dev, "vid", str(vid), *flags)
        self.port_vlans[key] = wanted

    def add_vlan_device(self, netns: str, lower: str, vid: int, protocol: str = "802.1Q", mac: str | None = None
                        ) -> str:
        """A VLAN device on ``lower`` (with ``mac``; default: ``lower``'s): it sends with a tag (``protocol``, VID
        ``vid``, priority 0) and receives that VLAN's frames, untagged. Returns its ifname."""
        dev = self._ifname("q")
        run_command("ip", "-n", netns, "link", "add", "link", lower, "name", dev, *(("address", mac) if mac else ()),
                    "type", "vlan", "id", str(vid), "protocol", protocol)
        run_command("ip", "-n", netns, "link", "set", dev, "arp", "off", "up")
        self._where[dev], self._under[dev] = netns, lower
        return dev

    def _plug(self, node: str, ns: str, mac: str, flags: Mapping[str, bool]) -> str:
        """A veth pair: one end a port of the bridge, the other (returned) in ``ns`` with ``mac``."""
        port, end = self.add_veth(self.switch_ns, ns, None, mac)
        self.enslave(node, port, "", **flags)
        return end

    def add_host(self, name: str, mac: str, **port_flags: bool) -> Endpoint:
        """A physical host: its own namespace, a veth end with ``mac``, the peer a bridge port."""
        self._check_name(name)
        ns = self.add_netns(name)
        return self.add_endpoint(name, "host", ns, self._plug(name, ns, mac, port_flags), name)

    def add_hypervisor(self, name: str, mac: str, mode: str, vnics: Mapping[str, str],
                       **port_flags: bool) -> list[Endpoint]:
        """A hypervisor: adapter veth (endpoint ``name``, its host stack) plus macvlan ``vnics`` {name: mac},
        each moved into its own namespace. In passthru mode the one vNIC's MAC becomes the adapter's too."""
        if mode not in MACVLAN_MODES:
            raise KernelLabError(f"macvlan mode {mode!r}: one of {', '.join(MACVLAN_MODES)}")
        if mode == "passthru" and len(vnics) > 1:
            raise KernelLabError("passthru mode allows a single vNIC")
        self._check_name(name, *vnics)
        ns = self.add_netns(name)
        lower = self._plug(name, ns, mac, port_flags)
        out = [self.add_endpoint(name, "adapter", ns, lower, name)]
        return out + [self.add_macvlan(vm, ns, lower, vmac, mode, name) for vm, vmac in vnics.items()]

    def add_macvlan(self, name: str, netns: str, lower: str, mac: str, mode: str, node: str) -> Endpoint:
        """A macvlan on ``lower`` (in ``netns``), moved into namespace ``<tag>-<name>`` (made if new): a vNIC."""
        vns, dev = f"{self.tag}-{name}", self._ifname("v")
        if vns not in self._netns:
            self._add_netns(vns)
        run_command("ip", "-n", netns, "link", "add", dev, "link", lower, "address", str(MACAddress(mac)),
             "type", "macvlan", "mode", mode)
        run_command("ip", "-n", netns, "link", "set", dev, "netns", vns)
        if mode == "passthru":  # passthru took the lower's MAC; setting ours changes the lower's too
            run_command("ip", "-n", vns, "link", "set", dev, "address", str(MACAddress(mac)))
        run_command("ip", "-n", vns, "link", "set", dev, "arp", "off", "up")
        self._where[dev], self._under[dev] = vns, lower
        return self.add_endpoint(name, "vnic", vns, dev, node)

    def add_endpoint(self, name: str, kind: str, ns: str, ifname: str, node: str) -> Endpoint:
        """Capture on (and inject from) device ``ifname`` of ``ns``, as endpoint ``name``."""
        if name in self.endpoints:
            raise KernelLabError(f"endpoint {name!r} exists")
        return self._endpoint(name, kind, ns, ifname, node)

    def remove_endpoint(self, name: str, delete: bool = True) -> None:
        """Close an endpoint's sockets and (``delete``) delete its device (a veth takes its peer along)."""
        ep = self.endpoints.pop(name)
        self.sockets.remove_endpoint(name)
        self._groups.clear()  # a macvlan's groups leave its lower device's list with it
        if delete:
            run_command("ip", "-n", ep.netns, "link", "del", ep.ifname)
            for key in [k for k, port in self.ports.items() if self._under.get(port) == ep.ifname]:
                del self.ports[key], self._port_at[key]

    def set_link(self, ifname: str, up: bool) -> None:
        """``ip link set`` a lab device up or down (a veth's peer loses carrier; a down device is not waited for)."""
        run_command("ip", "-n", self._where[ifname], "link", "set", ifname, "up" if up else "down")
        (self._down.discard if up else self._down.add)(ifname)
        self._ready = False

    def set_device(self, endpoint: str, *args: str) -> None:
        """``ip link set dev <endpoint's device> ARGS`` (promisc on, allmulticast off...)."""
        ep = self.endpoints[endpoint]
        run_command("ip", "-n", ep.netns, "link", "set", "dev", ep.ifname, *args)
        self._groups.pop(endpoint, None)

    def _endpoint(self, name: str, kind: str, ns: str, ifname: str, node: str) -> Endpoint:
        info = json.loads(run_command("ip", "-n", ns, "-j", "link", "show", "dev", ifname))[0]
        self._where.setdefault(ifname, ns)
        ep = self.endpoints[name] = Endpoint(name, kind, ns, ifname, info["address"], node)
        self.sockets.add_endpoint(name, ns, ifname, "tapped" if kind == "adapter" else "received")
        self._ready = False
        return ep

    def set_port(self, node: str, **flags: bool) -> None:
        """``bridge link set`` flags (``PORT_FLAGS``) on the port of ``node``, e.g. ``hairpin=True``."""
        if set(flags) - set(PORT_FLAGS):
            raise KernelLabError(f"port flags {sorted(set(flags) - set(PORT_FLAGS))}: not in {PORT_FLAGS}")
        args = [word for key, on in flags.items() for word in (key, "on" if on else "off")]
        run_command("bridge", "-n", self._port_at[node][0], "link", "set", "dev", self.ports[node], *args)

    def join_multicast(self, endpoint: str, group: str, join: bool = True) -> None:
        """Add (or with ``join=False`` remove) an L2 multicast address on an endpoint's device (``ip maddr``)."""
        ep = self.endpoints[endpoint]
        run_command("ip", "-n", ep.netns, "maddr", "add" if join else "del", str(MACAddress(group)), "dev", ep.ifname)
        self._groups.pop(endpoint, None)

    def enable_ipv6(self, endpoint: str, addresses: list[str], link_local: bool = True, dad_transmits: int = 0
                    ) -> None:
        """Turn IPv6 on for an endpoint's device, with its EUI-64 link-local (or none) and ``addresses``: the
        kernel's stack then joins their solicited-node groups itself. No router solicitations, and MLD reports at
        once (1 ms), so that its own frames come while the lab is being built; what it still sends later (answers
        to the replayed frames) matches no injection and is counted as stray. ``dad_transmits`` 0: no DAD
        (``nodad``); more: the kernel's own DAD with that many probes, started by ``start_dad`` once the whole
        lab is built, so that every endpoint is there to receive them (after that, as for a VM that migrated and
        keeps its addresses, IPv6 comes on at once without DAD)."""
        ep = self.endpoints[endpoint]
        # arp on: with IFF_NOARP the kernel joins no solicited-node group (addrconf_join_solict); no IPv4 address
        # here, so no ARP answer comes of it
        run_command("ip", "-n", ep.netns, "link", "set", "dev", ep.ifname, "arp", "on")
        dad = dad_transmits if self._dad_pending is not None else 0  # after start_dad (a VM that migrated): none
        settings = {"addr_gen_mode": "0" if link_local else "1", "accept_dad": "1" if dad else "0",
                    "dad_transmits": str(dad), "router_solicitations": "0", "mldv2_unsolicited_report_interval": "1"}
        self._sysctls6(ep, settings)
        if dad and self._dad_pending is not None:
            self._dad_pending.append((endpoint, addresses))
        else:
            self._ipv6_on(endpoint, addresses, "nodad")

    def _sysctls6(self, ep: Endpoint, settings: Mapping[str, str]) -> None:
        with in_netns(ep.netns):
            for key, value in settings.items():  # in order: disable_ipv6 0 last makes the link-local
                with open(f"/proc/sys/net/ipv6/conf/{ep.ifname}/{key}", "w") as f:
                    f.write(value)

    def _ipv6_on(self, endpoint: str, addresses: list[str], *flags: str) -> None:
        ep = self.endpoints[endpoint]
        self._sysctls6(ep, {"disable_ipv6": "0"})
        for address in addresses:
            run_command("ip", "-n", ep.netns, "-6", "addr", "add", address, "dev", ep.ifname, *flags)
        self._groups.pop(endpoint, None)

    def start_dad(self, timeout_s: float = 10.0) -> list[tuple[str, str, str, bytes, float]]:
        """Turn on the IPv6 that ``enable_ipv6`` deferred (its addresses and link-local go through DAD), wait until
        no address is tentative any more (Linux waits a random time below ``rtr_solicit_delay``, 1 s, then one
        ``retrans_time`` per probe), and return every copy the endpoints' sockets took meanwhile (``frameio``'s
        ``drain``). Each adapter's host stack gets its IPv6 socket first, as an injection of IPv6 would give it."""
        pending, self._dad_pending = self._dad_pending or [], None  # None: started, later IPv6 comes without DAD
        for ep in self.endpoints.values() if pending else ():
            if ep.kind == "adapter":
                self.sockets.listen_stack(ep.name, ep.netns, ep.ifname, 0x86DD)
        for endpoint, addresses in pending:
            self._ipv6_on(endpoint, addresses)
        deadline = now_s() + timeout_s
        while pending and now_s() < deadline:
            rows = [row for endpoint, _ in pending for row in json.loads(run_command(
                "ip", "-n", self.endpoints[endpoint].netns, "-6", "-j", "addr", "show", "dev",
                self.endpoints[endpoint].ifname) or "[]")]
            if not any(a.get("tentative") and not a.get("dadfailed") for r in rows for a in r.get("addr_info", [])):
                break
            sleep_s(0.05)
        sleep_s(self.settle_s)  # the last probes' copies
        return self.sockets.drain()

    def groups(self, endpoint: str) -> set[str]:
        """L2 multicast addresses on an endpoint's device, the stack's own (01:00:5e:00:00:01...) included."""
        if endpoint not in self._groups:
            ep = self.endpoints[endpoint]
            rows = json.loads(run_command("ip", "-n", ep.netns, "-j", "maddr", "show", "dev", ep.ifname))
            self._groups[endpoint] = {m["link"] for row in rows for m in row.get("maddr", []) if "link" in m}
        return self._groups[endpoint]

    def add_static_fdb(self, mac: str, node: str, vlan: int | None = None) -> None:
        in_vlan = ("vlan", str(vlan)) if vlan is not None else ()
        run_command("bridge", "-n", self._port_at[node][0], "fdb", "replace", str(MACAddress(mac)), "dev",
                    self.ports[node], "master", "static", *in_vlan)

    def fdb(self, bridge: str = "") -> list[FdbEntry]:
        """Learned and static bridge entries, sorted (the bridge's own permanent and ``self`` entries left out)."""
        ns, dev = self.bridges[bridge]
        owners = {self.ports[node]: node for node, (_, br) in self._port_at.items() if br == bridge}
        rows = json.loads(run_command("bridge", "-n", ns, "-j", "fdb", "show", "br", dev) or "[]")
        return sorted(FdbEntry(r["mac"], r["ifname"], r.get("state") == "static", owners[r["ifname"]], r.get("vlan"))
                      for r in rows if "self" not in r.get("flags", []) and r.get("state") != "permanent"
                      and r["ifname"] in owners)

    def wait_ready(self, timeout_s: float = 5.0) -> None:
        """Wait until every bridge port forwards and every lab link has carrier and a qdisc (not ``noop``);
        devices set down on purpose, and what hangs on them (veth peer, macvlans, bridge port), are skipped."""
        deadline = now_s() + timeout_s
        while True:
            excused = set(self._down) | {self._under[d] for d in self._down if d in self._under}
            while True:  # and what hangs on them, at any depth (a macvlan on a VLAN device on the adapter)
                more = {dev for dev, below in self._under.items() if below in excused} - excused
                if not more:
                    break
                excused |= more
            namespaces = sorted({ep.netns for ep in self.endpoints.values()} | {ns for ns, _ in self.bridges.values()})
            bridges = {dev for _, dev in self.bridges.values()}
            busy = []
            for ns in namespaces:
                ports = json.loads(run_command("bridge", "-n", ns, "-j", "link", "show") or "[]")
                busy += [f"{p['ifname']}:{p.get('state')}" for p in ports
                         if p.get("state") != "forwarding" and p["ifname"] not in excused]
                busy += [f"{link['ifname']}:{link.get('operstate')}/{link['qdisc']}"
                         for link in json.loads(run_command("ip", "-n", ns, "-j", "link", "show"))
                         if link["ifname"].startswith(self.tag) and link["ifname"] not in excused
                         and ("LOWER_UP" not in link["flags"] and link["ifname"] not in bridges
                              or link["qdisc"] == "noop")]
            if not busy:
                self._ready = True
                return
            if now_s() > deadline:
                raise KernelLabError("lab not ready: " + ", ".join(busy))
            sleep_s(0.01)

    @property
    def stray(self) -> list[tuple[str, str, bytes]]:
        """(endpoint, pkttype, frame) of every copy that matched no injection."""
        return self.sockets.stray

    def inject(self, endpoint: str, frame: bytes, settle_s: float | None = None,
               awaited: frozenset[str] = frozenset()) -> InjectResult:
        """Send ``frame`` from ``endpoint``; collect copies until no socket has seen one for ``settle_s`` and each
        endpoint in ``awaited`` has received one (or the lab's ``max_wait_s`` has passed).

        Copies match by content (trailing zero padding added or trimmed); anything else goes to ``self.stray``."""
        proto = skb_protocol(frame)
        for ep in self.endpoints.values():
            if ep.kind == "adapter":
                self.sockets.listen_stack(ep.name, ep.netns, ep.ifname, proto)
        if not self._ready:
            self.wait_ready()
        settle = self.settle_s if settle_s is None else settle_s
        result = self.sockets.inject(endpoint, frame, settle, self.max_wait_s, awaited)
        if not result.error and frame[0] & 1 and frame[:6] != b"\xff" * 6:
            group = str(MACAddress(frame[:6]))
            result.unjoined = sorted({r.endpoint for r in result.received if group not in self.groups(r.endpoint)})
        return result


def cleanup_leftovers(prefix: str = "vsk", *, force: bool = False) -> list[str]:
    """Delete namespaces (and root-namespace links) of labs whose process is gone (of any lab, if ``force``).

    Returns the names removed. Names not in the lab format, or of a live process, are left alone."""
    pattern = re.compile(rf"^{re.escape(prefix)}_([0-9a-z]{{5}})[0-9a-z]{{2}}")

    def stale(name: str) -> bool:
        m = pattern.match(name)
        return m is not None and (force or not os.path.exists(f"/proc/{int(m.group(1), 36)}"))

    netns = [n for n in (line.split(" ")[0] for line in run_command("ip", "netns", "list").splitlines()) if stale(n)]
    links = [link["ifname"] for link in json.loads(run_command("ip", "-j", "link", "show") or "[]")
             if stale(link["ifname"])]
    for kind, name in [("netns", n) for n in netns] + [("link", n) for n in links]:
        run_command("ip", kind, "del", name, check=False)
    return netns + links

