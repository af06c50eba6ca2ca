"""Raw frames in and out of a kernel lab: AF_PACKET sockets on its endpoints, and who received an injection.

Sockets are made in each endpoint's namespace (``kernelns.in_netns``). An injection is one ``send`` plus a quiet
period (``settle_s``) collecting copies, which match the frame by content, VLAN tags aside: a bridge adds and
removes tags on the way, and the receiver's socket gets the outer tag as metadata, not in the bytes (Linux
untags every frame it receives before its taps see it). An adapter has two views:
``received``, its host stack (a socket for the frame's ethertype, served after macvlan's rx_handler; af_packet
drops skbs handed to a vNIC in another netns, and a copy a device of its own netns passed up, such as a VLAN device
eth0.N, is eth0.N's and not counted: Linux hands a socket bound to eth0 what ``__netif_receive_skb_core`` passes
up on any device the frame reached from eth0, its ``orig_dev``) and ``tapped`` (an ETH_P_ALL tap: every frame on the wire, before
macvlan). Copies an endpoint sends itself are ``transmitted``.
"""

from __future__ import annotations

import errno
import select
import socket
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from ..core.mac import MACAddress
from ..realtime import stopwatch_s
from .netns import in_netns

ETH_P_ALL = 0x0003
PKTTYPES = {0: "host", 1: "broadcast", 2: "multicast", 3: "otherhost", 4: "outgoing"}  # sll_pkttype


def skb_protocol(frame: bytes) -> int:
    """The ``skb->protocol`` Linux gives ``frame`` on receive (inner type of an 802.1Q/802.1ad tag)."""
    off = 16 if frame[12:14] in (b"\x81\x00", b"\x88\xa8") else 12
    etype = int.from_bytes(frame[off:off + 2], "big")
    return etype if etype >= 0x600 else 0x0001 if frame[off + 2:off + 4] == b"\xff\xff" else 0x0004  # 802.3/.2


def untagged(frame: bytes) -> bytes:
    """``frame`` without its 802.1Q / 802.1ad tags (all of them, outermost first)."""
    while len(frame) >= 18 and frame[12:14] in (b"\x81\x00", b"\x88\xa8"):
        frame = frame[:12] + frame[16:]
    return frame


def same_frame(copy: bytes, frame: bytes) -> bool:
    """Is ``copy`` a copy of ``frame``? The same bytes, VLAN tags and trailing zero padding aside (a tag is added
    or removed on the way; an IPv4 frame's padding may be trimmed)."""
    short, long = sorted((untagged(copy), untagged(frame)), key=len)
    return long[: len(short)] == short and not long[len(short):].strip(b"\0")


def ether_frame(dst: str, src: str, ethertype: int = 0x88B5, payload: bytes = b"") -> bytes:  # local experimental
    """A raw Ethernet II frame, zero-padded to 60 bytes. Put a unique tag in ``payload`` (copies match by content)."""
    frame = MACAddress(dst).packed + MACAddress(src).packed + ethertype.to_bytes(2, "big") + payload
    return frame.ljust(60, b"\0")


class Reception(NamedTuple):
    endpoint: str
    pkttype: str  # a PKTTYPES value
    delay_s: float  # after the send


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
    error: str = ""  # why the send itself failed (nothing was sent)

    @property
    def receivers(self) -> dict[str, int]:
        """Copies per endpoint that its stack accepts (pkttype host, broadcast or multicast; not otherhost)."""
        return dict(sorted(Counter(r.endpoint for r in self.received if r.pkttype != "otherhost").items()))


class FrameSockets:
    """The AF_PACKET sockets of a lab's endpoints: one ETH_P_ALL socket each, which also sends, and on adapters
    one per ethertype for the host stack. Copies that match no injection are kept in ``stray``."""

    def __init__(self) -> None:
        self.stray: list[tuple[str, str, bytes]] = []  # (endpoint, pkttype, frame) matching no injection
        self._socks: dict[int, tuple[str, str, socket.socket]] = {}  # fd -> (endpoint, view, socket)
        self._bound: dict[int, str] = {}  # fd -> the device its socket is bound to
        self._senders: dict[str, socket.socket] = {}
        self._stack: set[tuple[str, int]] = set()  # (adapter, ethertype) with a host-stack socket

    def add_endpoint(self, endpoint: str, netns: str, ifname: str, view: str) -> None:
        """Capture every frame on device ``ifname`` of ``netns`` as ``view``, and inject from it."""
        self._senders[endpoint] = self._open(endpoint, netns, ifname, ETH_P_ALL, view)

    def listen_stack(self, adapter: str, netns: str, ifname: str, ethertype: int) -> None:
        """Receive ``ethertype`` frames as an adapter's host stack does (once per adapter and ethertype)."""
        if (adapter, ethertype) not in self._stack:
            self._open(adapter, netns, ifname, ethertype, "received")
            self._stack.add((adapter, ethertype))

    def remove_endpoint(self, endpoint: str) -> None:
        """Close every socket of ``endpoint``."""
        for fd, (owner, _, sock) in list(self._socks.items()):
            if owner == endpoint:
                sock.close()
                del self._socks[fd]
        self._senders.pop(endpoint, None)
        self._stack = {(e, p) for e, p in self._stack if e != endpoint}

    def close(self) -> None:
        """Close every socket (an open socket would keep its namespace, and the links in it, alive)."""
        for _, _, sock in self._socks.values():
            sock.close()
        self._socks, self._senders = {}, {}

    def _open(self, endpoint: str, netns: str, ifname: str, proto: int, view: str) -> socket.socket:
        with in_netns(netns):
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(proto))
        self._socks[sock.fileno()] = (endpoint, view, sock)
        self._bound[sock.fileno()] = ifname
        sock.bind((ifname, proto))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.setblocking(False)
        return sock

    def _poll(self, timeout: float) -> list[tuple[str, str, str, bytes, float]]:
        """(endpoint, view, pkttype, frame, time) of every copy waiting, after at most ``timeout`` seconds."""
        ready, _, _ = select.select(list(self._socks), [], [], max(timeout, 0.0))
        now, got = stopwatch_s(), []
        for fd in ready:
            name, view, sock = self._socks[fd]
            while True:
                try:
                    data, addr = sock.recvfrom(65535)
                except BlockingIOError:
                    break
                except OSError as exc:  # the device went down: reported once on each socket bound to it
                    if exc.errno != errno.ENETDOWN:
                        raise
                    continue
                kind = PKTTYPES.get(addr[2], str(addr[2]))
                if view == "received" and kind != "outgoing" and addr[0] != self._bound[fd]:
                    continue  # passed up on another device of this netns (a VLAN device on it): not this stack's
                got.append((name, "transmitted" if kind == "outgoing" else view, kind, data, now))
        return got

    def drain(self) -> list[tuple[str, str, str, bytes, float]]:
        """(endpoint, view, pkttype, frame, time) of every copy waiting now, taken out of the sockets (what the
        kernel's own stacks sent before anything was injected)."""
        return self._poll(0)

    def inject(self, endpoint: str, frame: bytes, settle_s: float, max_wait_s: float,
               awaited: frozenset[str] = frozenset()) -> InjectResult:
        """Send ``frame`` from ``endpoint``; collect copies until no socket has seen one for ``settle_s`` and each
        endpoint in ``awaited`` has received one (at most ``max_wait_s``): a copy the kernel hands over late on a
        busy machine (macvlan's broadcast worker) is still counted. Copies match by content (``same_frame``: VLAN
        tags and trailing zero padding aside); anything else, and whatever was waiting before the send, goes to
        ``stray``."""
        self.stray += [(ep, kind, data) for ep, _, kind, data, _ in self._poll(0)]
        result = InjectResult(endpoint, frame)
        t0 = last = stopwatch_s()
        try:
            self._senders[endpoint].send(frame)
        except OSError as exc:  # e.g. ENETDOWN (device down), EMSGSIZE (larger than the MTU)
            result.error = exc.strerror or str(exc)
            return result
        missing = set(awaited)
        while (now := stopwatch_s()) - t0 < max_wait_s:
            quiet_until = last + settle_s if not missing else t0 + max_wait_s
            got = self._poll(min(quiet_until - now, t0 + max_wait_s - now))
            if not got:
                break
            for ep, view, kind, data, at in got:
                last = max(last, at)
                if not same_frame(data, frame):
                    self.stray.append((ep, kind, data))
                else:
                    getattr(result, view).append(Reception(ep, kind, at - t0))
                    if view == "received":
                        missing.discard(ep)
        result.elapsed_s = stopwatch_s() - t0
        return result
