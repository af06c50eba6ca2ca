"""A throw-away kernel lab (the oracle of DESIGN.md section 6): Linux bridge, veth hosts, macvlan vNICs.

Builds namespaces and links with ``ip``/``bridge`` (root), injects raw frames through AF_PACKET sockets and
reports which endpoints received each one. Names start with ``<prefix>_<pid, 5 base36><lab seq, 2>`` so that
``cleanup_leftovers`` can remove what a killed run left behind.

    with KernelLab("vsk") as lab:
        lab.add_host("h1", "02:00:00:00:01:01")
        lab.add_hypervisor("hv1", "02:00:00:00:00:01", "bridge", {"vm1": "52:54:00:00:00:01"}, hairpin=True)
        lab.inject("h1", ether_frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:01:01")).receivers
        # {'hv1': 1, 'vm1': 1}

Sockets are made in each namespace by moving only the calling thread there (``setns``); an injection is one
``send`` plus a quiet period (``settle_s``) collecting copies. An adapter has two views: ``received``, its host
stack (a socket for the frame's ethertype, served after macvlan's rx_handler; af_packet drops skbs handed to a
vNIC in another netns) and ``tapped`` (an ETH_P_ALL tap: every frame on the wire, before macvlan).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Mapping, NamedTuple

from .errors import VSwitchError
from .mac import MACAddress

ETH_P_ALL = 0x0003
CLONE_NEWNET = 0x40000000
PKTTYPES = {0: "host", 1: "broadcast", 2: "multicast", 3: "otherhost", 4: "outgoing"}  # sll_pkttype
MACVLAN_MODES = ("private", "vepa", "bridge", "passthru")
PORT_FLAGS = ("hairpin", "learning", "flood", "mcast_flood", "bcast_flood", "isolated")

_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,3}$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,11}$")
_libc = ctypes.CDLL(None, use_errno=True)
_seq = 0


class KernelLabError(VSwitchError):
    """A lab could not be built, driven or torn down."""


def _b36(n: int, width: int) -> str:
    return "".join(_B36[n // 36**i % 36] for i in reversed(range(width)))


def _run(*args: str, check: bool = True) -> str:
    proc = subprocess.run(args, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise KernelLabError(f"`{' '.join(args)}` failed: {proc.stderr.strip() or proc.returncode}")
    return proc.stdout


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:  # os.setns is Python 3.12+
        raise OSError(ctypes.get_errno(), f"setns: {os.strerror(ctypes.get_errno())}")


@contextmanager
def in_netns(name: str) -> Iterator[None]:
    """Run the block with the calling thread in network namespace ``name`` (sockets made here stay there)."""
    target, home = os.open(f"/run/netns/{name}", os.O_RDONLY), os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _setns(target)
        yield
    finally:
        _setns(home)  # a no-op if entering failed
        os.close(home)
        os.close(target)


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


def skb_protocol(frame: bytes) -> int:
    """The ``skb->protocol`` Linux gives ``frame`` on receive (inner type of an 802.1Q/802.1ad tag)."""
    off = 16 if frame[12:14] in (b"\x81\x00", b"\x88\xa8") else 12
    etype = int.from_bytes(frame[off:off + 2], "big")
    return etype if etype >= 0x600 else 0x0001 if frame[off + 2:off + 4] == b"\xff\xff" else 0x0004  # 802.3/.2


def ether_frame(dst: str, src: str, ethertype: int = 0x88B5, payload: bytes = b"") -> bytes:  # local experimental
    """A raw Ethernet II frame, zero-padded to 60 bytes. Put a unique tag in ``payload`` (copies match by content)."""
    frame = MACAddress(dst).packed + MACAddress(src).packed + ethertype.to_bytes(2, "big") + payload
    return frame.ljust(60, b"\0")


class Endpoint(NamedTuple):
    """A capture/injection point: ``kind`` is ``host`` (veth), ``adapter`` (hypervisor's lower veth) or ``vnic``."""
    name: str
    kind: str
    netns: str
    ifname: str
    mac: str
    node: str  # the host or hypervisor it belongs to


class Reception(NamedTuple):
    endpoint: str
    pkttype: str  # a PKTTYPES value
    delay_s: float  # after the send


class FdbEntry(NamedTuple):
    mac: str
    port: str  # bridge port ifname
    is_static: bool
    node: str  # what is plugged into the port


@dataclass
class InjectResult:
    """One injected frame: stack deliveries, adapter-tap copies, outgoing copies seen on adapter taps, and the
    receivers of a multicast group their device has not joined (macvlan's 256-bucket hash filter is salted
    per device, so such false positives vary between labs; veth does not filter at all)."""
    sender: str
    frame: bytes
    received: list[Reception] = field(default_factory=list)
    tapped: list[Reception] = field(default_factory=list)
    transmitted: list[Reception] = field(default_factory=list)
    unjoined: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def receivers(self) -> dict[str, int]:
        """Copies per endpoint that its stack accepts (pkttype host, broadcast or multicast; not otherhost)."""
        return dict(sorted(Counter(r.endpoint for r in self.received if r.pkttype != "otherhost").items()))


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
        self.ports: dict[str, str] = {}  # node -> bridge port ifname
        self.stray: list[tuple[str, str, bytes]] = []  # (endpoint, pkttype, frame) matching no injection
        self._netns: list[str] = []
        self._socks: dict[int, tuple[str, str, socket.socket]] = {}  # fd -> (endpoint, view, socket)
        self._senders: dict[str, socket.socket] = {}
        self._groups: dict[str, set[str]] = {}  # endpoint -> L2 multicast addresses on its device
        self._stack: set[tuple[str, int]] = set()  # (adapter, ethertype) with a host-stack socket
        self._nif, self._ready = 0, False

    def __enter__(self) -> "KernelLab":
        try:
            self._add_netns(self.switch_ns)
            _run("ip", "-n", self.switch_ns, "link", "add", self.bridge, "type", "bridge", "stp_state", "0",
                 "ageing_time", str(round(self.ageing_s * 100)), "mcast_snooping", str(int(self.mcast_snooping)))
            _run("ip", "-n", self.switch_ns, "link", "set", self.bridge, "arp", "off", "up")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close sockets and delete every namespace (which destroys every link in them). Idempotent."""
        with _sigint_deferred():
            for _, _, sock in self._socks.values():
                sock.close()  # an open socket would keep its namespace, and the links in it, alive
            self._socks, self._senders = {}, {}
            for ns in reversed(self._netns):
                _run("ip", "netns", "del", ns, check=False)
            left, self._netns = [ns for ns in self._netns if os.path.exists(f"/run/netns/{ns}")], []
            if left:
                raise KernelLabError(f"teardown left namespaces {left}; see cleanup_leftovers()")

    def _add_netns(self, ns: str) -> None:
        self._netns.append(ns)  # before creating it: an interrupted add is still cleaned up
        _run("ip", "netns", "add", ns)
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

    def _plug(self, node: str, ns: str, mac: str, flags: Mapping[str, bool]) -> str:
        """A veth pair: one end a port of the bridge, the other (returned) in ``ns`` with ``mac``."""
        port, end = self._ifname("p"), self._ifname("e")
        _run("ip", "-n", self.switch_ns, "link", "add", port, "type", "veth", "peer", "name", end,
             "address", str(MACAddress(mac)), "netns", ns)
        _run("ip", "-n", ns, "link", "set", end, "arp", "off", "up")
        _run("ip", "-n", self.switch_ns, "link", "set", port, "master", self.bridge, "arp", "off", "up")
        self.ports[node] = port
        if flags:
            self.set_port(node, **flags)
        return end

    def add_host(self, name: str, mac: str, **port_flags: bool) -> Endpoint:
        """A physical host: its own namespace, a veth end with ``mac``, the peer a bridge port."""
        self._check_name(name)
        ns = f"{self.tag}-{name}"
        self._add_netns(ns)
        return self._endpoint(name, "host", ns, self._plug(name, ns, mac, port_flags), name)

    def add_hypervisor(self, name: str, mac: str, mode: str, vnics: Mapping[str, str],
                       **port_flags: bool) -> list[Endpoint]:
        """A hypervisor: adapter veth (endpoint ``name``, its host stack) plus macvlan ``vnics`` {name: mac},
        each moved into its own namespace. In passthru mode the one vNIC's MAC becomes the adapter's too."""
        if mode not in MACVLAN_MODES:
            raise KernelLabError(f"macvlan mode {mode!r}: one of {', '.join(MACVLAN_MODES)}")
        if mode == "passthru" and len(vnics) > 1:
            raise KernelLabError("passthru mode allows a single vNIC")
        self._check_name(name, *vnics)
        ns = f"{self.tag}-{name}"
        self._add_netns(ns)
        lower, devs = self._plug(name, ns, mac, port_flags), []
        for vm, vmac in vnics.items():
            vns, dev = f"{self.tag}-{vm}", self._ifname("v")
            devs.append(dev)
            self._add_netns(vns)
            _run("ip", "-n", ns, "link", "add", dev, "link", lower, "address", str(MACAddress(vmac)),
                 "type", "macvlan", "mode", mode)
            _run("ip", "-n", ns, "link", "set", dev, "netns", vns)
            if mode == "passthru":  # passthru took the lower's MAC; setting ours changes the lower's too
                _run("ip", "-n", vns, "link", "set", dev, "address", str(MACAddress(vmac)))
            _run("ip", "-n", vns, "link", "set", dev, "arp", "off", "up")
        out = [self._endpoint(name, "adapter", ns, lower, name)]
        return out + [self._endpoint(vm, "vnic", f"{self.tag}-{vm}", dev, name) for vm, dev in zip(vnics, devs)]

    def _endpoint(self, name: str, kind: str, ns: str, ifname: str, node: str) -> Endpoint:
        info = json.loads(_run("ip", "-n", ns, "-j", "link", "show", "dev", ifname))[0]
        ep = self.endpoints[name] = Endpoint(name, kind, ns, ifname, info["address"], node)
        self._senders[name] = self._open(ep, ETH_P_ALL, "tapped" if kind == "adapter" else "received")
        self._ready = False
        return ep

    def _open(self, ep: Endpoint, proto: int, view: str) -> socket.socket:
        with in_netns(ep.netns):
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(proto))
        self._socks[sock.fileno()] = (ep.name, view, sock)
        sock.bind((ep.ifname, proto))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.setblocking(False)
        return sock

    def set_port(self, node: str, **flags: bool) -> None:
        """``bridge link set`` flags (``PORT_FLAGS``) on the port of ``node``, e.g. ``hairpin=True``."""
        if set(flags) - set(PORT_FLAGS):
            raise KernelLabError(f"port flags {sorted(set(flags) - set(PORT_FLAGS))}: not in {PORT_FLAGS}")
        args = [word for key, on in flags.items() for word in (key, "on" if on else "off")]
        _run("bridge", "-n", self.switch_ns, "link", "set", "dev", self.ports[node], *args)

    def join_multicast(self, endpoint: str, group: str) -> None:
        """Add an L2 multicast address to an endpoint's device (``ip maddr add``)."""
        ep = self.endpoints[endpoint]
        _run("ip", "-n", ep.netns, "maddr", "add", str(MACAddress(group)), "dev", ep.ifname)
        self._groups.pop(endpoint, None)

    def groups(self, endpoint: str) -> set[str]:
        """L2 multicast addresses on an endpoint's device, the stack's own (01:00:5e:00:00:01...) included."""
        if endpoint not in self._groups:
            ep = self.endpoints[endpoint]
            rows = json.loads(_run("ip", "-n", ep.netns, "-j", "maddr", "show", "dev", ep.ifname))
            self._groups[endpoint] = {m["link"] for row in rows for m in row.get("maddr", []) if "link" in m}
        return self._groups[endpoint]

    def add_static_fdb(self, mac: str, node: str) -> None:
        _run("bridge", "-n", self.switch_ns, "fdb", "replace", str(MACAddress(mac)), "dev", self.ports[node],
             "master", "static")

    def fdb(self) -> list[FdbEntry]:
        """Learned and static bridge entries, sorted (the bridge's own permanent and ``self`` entries left out)."""
        owners = {port: node for node, port in self.ports.items()}
        rows = json.loads(_run("bridge", "-n", self.switch_ns, "-j", "fdb", "show", "br", self.bridge) or "[]")
        return sorted(FdbEntry(r["mac"], r["ifname"], r.get("state") == "static", owners[r["ifname"]])
                      for r in rows if "self" not in r.get("flags", []) and r.get("state") != "permanent"
                      and r["ifname"] in owners)

    def wait_ready(self, timeout_s: float = 5.0) -> None:
        """Wait until every bridge port forwards and every lab link has carrier and a qdisc (not ``noop``)."""
        deadline = time.monotonic() + timeout_s
        while True:
            ports = json.loads(_run("bridge", "-n", self.switch_ns, "-j", "link", "show") or "[]")
            busy = [f"{p['ifname']}:{p.get('state')}" for p in ports if p.get("state") != "forwarding"]
            for ns in sorted({ep.netns for ep in self.endpoints.values()} | {self.switch_ns}):
                busy += [f"{link['ifname']}:{link.get('operstate')}/{link['qdisc']}"
                         for link in json.loads(_run("ip", "-n", ns, "-j", "link", "show"))
                         if link["ifname"].startswith(self.tag)
                         and ("LOWER_UP" not in link["flags"] or link["qdisc"] == "noop")]
            if not busy:
                self._ready = True
                return
            if time.monotonic() > deadline:
                raise KernelLabError("lab not ready: " + ", ".join(busy))
            time.sleep(0.01)

    def _poll(self, timeout: float) -> list[tuple[str, str, str, bytes, float]]:
        """(endpoint, view, pkttype, frame, time) of every copy waiting, after at most ``timeout`` seconds."""
        ready, _, _ = select.select(list(self._socks), [], [], max(timeout, 0.0))
        now, got = time.perf_counter(), []
        for fd in ready:
            name, view, sock = self._socks[fd]
            while True:
                try:
                    data, addr = sock.recvfrom(65535)
                except BlockingIOError:
                    break
                kind = PKTTYPES.get(addr[2], str(addr[2]))
                got.append((name, "transmitted" if kind == "outgoing" else view, kind, data, now))
        return got

    def inject(self, endpoint: str, frame: bytes, settle_s: float | None = None) -> InjectResult:
        """Send ``frame`` from ``endpoint``; collect copies until no socket has seen one for ``settle_s``.

        Copies match by content (trailing zero padding allowed); anything else goes to ``self.stray``."""
        proto = skb_protocol(frame)
        for ep in self.endpoints.values():
            if ep.kind == "adapter" and (ep.name, proto) not in self._stack:
                self._open(ep, proto, "received")
                self._stack.add((ep.name, proto))
        if not self._ready:
            self.wait_ready()
        settle = self.settle_s if settle_s is None else settle_s
        self.stray += [(ep, kind, data) for ep, _, kind, data, _ in self._poll(0)]
        result = InjectResult(endpoint, frame)
        t0 = last = time.perf_counter()
        self._senders[endpoint].send(frame)
        while (now := time.perf_counter()) - t0 < self.max_wait_s:
            got = self._poll(min(last + settle - now, t0 + self.max_wait_s - now))
            if not got:
                break
            for ep, view, kind, data, at in got:
                last = max(last, at)
                if data[: len(frame)] != frame or data[len(frame):].strip(b"\0"):
                    self.stray.append((ep, kind, data))
                else:
                    getattr(result, view).append(Reception(ep, kind, at - t0))
        result.elapsed_s = time.perf_counter() - t0
        if frame[0] & 1 and frame[:6] != b"\xff" * 6:
            group = str(MACAddress(frame[:6]))
            result.unjoined = sorted({r.endpoint for r in result.received if group not in self.groups(r.endpoint)})
        return result


def cleanup_leftovers(prefix: str = "vsk", *, force: bool = False) -> list[str]:
    """Delete namespaces (and root-namespace links) of labs whose process is gone (of any lab, if ``force``).

    Returns the names removed. Names not in the lab format, or of a live process, are left alone."""
    pattern = re.compile(rf"^{re.escape(prefix)}_([0-9a-z]{{5}})[0-9a-z]{{2}}")

    def stale(name: str) -> bool:
        m = pattern.match(name)
        return bool(m) and (force or not os.path.exists(f"/proc/{int(m.group(1), 36)}"))

    netns = [n for n in (line.split(" ")[0] for line in _run("ip", "netns", "list").splitlines()) if stale(n)]
    links = [link["ifname"] for link in json.loads(_run("ip", "-j", "link", "show") or "[]") if stale(link["ifname"])]
    for kind, name in [("netns", n) for n in netns] + [("link", n) for n in links]:
        _run("ip", kind, "del", name, check=False)
    return netns + links

