"""The IPv6 half of a guest stack: addresses with DAD, neighbour discovery, ICMPv6 echo, MLDv2 reports, UDP.

``GuestStack`` (``stack.py``) hands this object the frames of ethertype 0x86DD and merges its timers; like the
IPv4 stack it is sans-IO: every call *returns* the ``(delay_ns, frame)`` pairs to transmit. Frames are built on
bytes (``inet6.py``) with their checksums. Behaviour follows Linux with its defaults (``docs/ipv6.md``):

- Addresses: a link-local from the MAC (``addr_gen_mode eui64``) unless ``link_local`` is off, then the ``ip6``
  ones. The interface is in the all-nodes group and each address's solicited-node group (``multicast_macs`` are
  the MACs the NIC joins).
- Link up (the start of the run, a cable coming back, a VM plugged in): an MLDv2 report of the joined groups from
  ``::`` and, per address, ``dad_transmits`` solicitations from ``::`` (DAD); the addresses are tentative until
  ``retrans_time`` after the last, then usable, and a second report goes out from the link-local address
  (``ipv6_mc_dad_complete``). A solicitation from ``::`` (other than our own looped back, which its nonce tells:
  ``enhanced_dad``) or an advertisement for a tentative address is a duplicate: that address is never used
  (``dadfailed``). Linux delays both by a random time below 1 s and
  repeats each report once (robustness 2); here they leave at once, once.
- Solicitations for our usable addresses are answered (solicited; override and our MAC when the solicitation
  was multicast, neither for a unicast probe); their sender is cached STALE, so the answer starts DELAY and
  later a unicast probe, as in Linux. The neighbour cache is ``ndp.py``.
- Echo requests to our addresses or to all-nodes are answered (``icmp_echo_ignore_multicast`` 0); UDP to port 7
  is echoed, to 9 discarded, to another port of ours answered with a port unreachable.
- ``announce`` (after a migration, ``netdev_notify_peers``): an unsolicited advertisement to all-nodes per usable
  address, override set (``ndisc_send_unsol_na``), then a current-state MLDv2 report (``ipv6_mc_rejoin_groups``).
- No routers: only link-local addresses and our prefixes are reachable (no router solicitation is sent).
"""

from __future__ import annotations

import hashlib
from ipaddress import IPv6Address
from typing import Any, Iterable

from ..core.frame import ETH_DST, ETH_SRC
from .inet6 import ALL_NODES, ICMP6_DEST_UNREACH, ICMP6_ECHO_REPLY, ICMP6_ECHO_REQUEST, ICMP6_ID, \
    ICMP6_PORT_UNREACH, ICMP6_SEQ, ICMP6_TYPE, IP6, IP6_DST, IP6_HEADER_LEN, IP6_HLIM, IP6_NEXT, IP6_PAYLOAD, IP6_PLEN, \
    IP6_SRC, IPPROTO_ICMPV6, IPPROTO_UDP6, MLD2_REPORT, NA_OVERRIDE, NA_SOLICITED, ND_NEIGHBOR_ADVERT, \
    ND_NEIGHBOR_SOLICIT, ND_OPT_SOURCE_LL, ND_OPT_TARGET_LL, ND_OPTIONS, ND_TARGET, \
    UDP6_CHECKSUM, UDP6_DATA, UDP6_DPORT, UDP6_LEN, UDP6_SEQ, UDP6_SPORT, UNSPECIFIED, checksum6, icmp6_frame, \
    interfaces6, ipv6_frame, mld2_report, multicast_mac, set_icmp6_checksum, set_udp6_checksum, solicited_node
from .ndp import RETRANS_TIME_NS, NeighbourCache, Solicit
from .stack import ping_payload

Output = list[tuple[int, bytes]]
UDP_ECHO_PORT, UDP_DISCARD_PORT = 7, 9
MLD2_MODE_IS_EXCLUDE, MLD2_CHANGE_TO_EXCLUDE = 2, 4  # current-state and state-change records (RFC 3810 5.2.12)
ND_OPT_NONCE, ND_NONCE_LEN = 14, 6
_ICMP6_ERROR_LEN = 1280  # an ICMPv6 error packet at most: the minimum MTU (RFC 4443 2.4 (c))
_ZERO_MAC = bytes(6)


class Ipv6Stack:
    """IPv6 on the interface of ``host`` (a ``GuestStack``: its name, MAC, counters and frame naming)."""

    def __init__(self, host: Any, addresses: Iterable[object] = (), *, link_local: bool = True,
                 dad_transmits: int = 1, hop_limit: int = 64, neighbours: NeighbourCache | None = None) -> None:
        self.host = host
        self.mac: bytes = host.mac.packed
        own = interfaces6(self.mac, addresses, link_local)
        self.interfaces = own
        self.dad_transmits = dad_transmits
        self.hop_limit = hop_limit
        self.neighbours = neighbours or NeighbourCache()
        self.count = host.count
        self.pings: dict[int, Any] = {}  # ICMPv6 echo identifier -> PingSession
        self.udp_senders: dict[int, Any] = {}  # our source port -> UdpSession
        self.addresses: list[bytes] = [i.ip.packed for i in own]
        self.tentative: dict[bytes, tuple[int, int]] = {}  # address -> (DAD probes sent, when the next is due)
        self.duplicates: set[bytes] = set()  # DAD failed: never used
        self.usable: set[bytes] = set(self.addresses)  # before any link up: as after a DAD that found no one
        self.groups: list[bytes] = sorted({solicited_node(a) for a in self.addresses})

    @property
    def counters(self) -> Any:
        """The interface's counters (a ``Counter``), shared with its IPv4 half."""
        return self.host.counters

    def __repr__(self) -> str:
        return f"<Ipv6Stack {self.host.name} {', '.join(str(i) for i in self.interfaces)}>"

    # -- addresses --------------------------------------------------------------------------------------
    def multicast_macs(self) -> list[bytes]:
        """The Ethernet groups the NIC joins: each address's solicited-node group (all-nodes it has already)."""
        return sorted({multicast_mac(group) for group in self.groups})

    @property
    def link_local(self) -> bytes | None:
        return next((a for a in self.addresses if IPv6Address(a).is_link_local), None)

    def on_link(self, address: bytes) -> bool:
        """Link-local addresses and those in one of our prefixes are reached directly (no routers modelled)."""
        ip = IPv6Address(address)
        return ip.is_link_local or any(ip in i.network for i in self.interfaces)

    def source_for(self, dst: bytes) -> bytes | None:
        """The source address for ``dst`` (RFC 6724, simplified): our link-local for link-local or multicast
        destinations, else the first of our addresses whose prefix holds ``dst``; None if that one is not usable
        (tentative or a duplicate)."""
        ip = IPv6Address(dst)
        if ip.is_link_local or ip.is_multicast:
            chosen = self.link_local
        else:
            chosen = next((i.ip.packed for i in self.interfaces if ip in i.network), None)
        return chosen if chosen in self.usable else None

    # -- link events --------------------------------------------------------------------------------------
    def link_up(self, now: int) -> Output:
        """The MLDv2 report from ``::`` and the DAD solicitations; every address tentative until DAD ends."""
        out: Output = [(0, self._report(UNSPECIFIED))]
        if self.dad_transmits <= 0:
            self.usable = set(self.addresses) - self.duplicates
            return out
        self.usable = set()
        for address in self.addresses:
            if address not in self.duplicates:
                self.tentative[address] = (1, now + RETRANS_TIME_NS)
                out.append((0, self._dad_probe(address)))
        return out

    def announce(self, now: int) -> Output:
        """What Linux sends on ``netdev_notify_peers`` (after a migration): ``NETDEV_NOTIFY_PEERS`` makes
        ``ndisc_send_unsol_na`` send an unsolicited advertisement to all-nodes for each address that is not
        tentative, from that address, with our MAC (target link-layer option), override set, solicited and router
        clear (a host does not forward), in the order of the device's address list (``ipv6_link_dev_addr``: global
        before link-local, the newest first); ``NETDEV_RESEND_IGMP`` makes ``ipv6_mc_rejoin_groups`` send a
        current-state MLDv2 report of the joined groups (mode is exclude), from the link-local address (``::``
        while it is tentative)."""
        out: Output = []
        for address in self._address_list():
            if address in self.usable:
                self.count("unsolicited_na_sent")
                out.append((0, self._advert(multicast_mac(ALL_NODES), ALL_NODES, address, NA_OVERRIDE)))
        link_local = self.link_local
        out.append((0, self._report(link_local if link_local in self.usable else UNSPECIFIED, MLD2_MODE_IS_EXCLUDE)))
        return out

    def _address_list(self) -> list[bytes]:
        """Our addresses as Linux keeps them (``ip -6 addr``): global ones first, the newest (last in ``ip6``)
        first, then the link-local."""
        ours = [a for a in self.addresses if a != self.link_local]
        return ours[::-1] + [a for a in self.addresses if a == self.link_local]

    def _report(self, source: bytes, record_type: int = 0) -> bytes:
        """An MLDv2 report of our groups: a state change (change to exclude) unless ``record_type`` says another."""
        self.count("mld_reports_sent")
        return bytes(mld2_report(self.mac, source, self.groups, record_type or MLD2_CHANGE_TO_EXCLUDE))

    def _dad_probe(self, address: bytes) -> bytes:
        """An NS from ``::`` for ``address`` to its solicited-node group: no source link-layer option, and a nonce
        (RFC 7527, Linux's ``enhanced_dad``) by which our own probe, looped back, is told from another's."""
        self.count("dad_ns_sent")
        group = solicited_node(address)
        body = bytes((ND_NEIGHBOR_SOLICIT, 0, 0, 0, 0, 0, 0, 0)) + address + bytes((ND_OPT_NONCE, 1)) \
            + self._nonce(address)
        return bytes(icmp6_frame(multicast_mac(group), self.mac, UNSPECIFIED, group, body, 255))

    def _nonce(self, address: bytes) -> bytes:
        """Linux draws 6 random bytes; here they come from the MAC and the address, so runs repeat."""
        return hashlib.sha256(self.mac + address).digest()[:ND_NONCE_LEN]

    def _dad_failed(self, address: bytes) -> None:
        self.tentative.pop(address, None)
        self.usable.discard(address)
        self.duplicates.add(address)
        self.count("dad_failed")

    # -- timers ---------------------------------------------------------------------------------------
    def next_deadline(self) -> int | None:
        deadlines = [due for _sent, due in self.tentative.values()]
        cache = self.neighbours.next_deadline()
        if cache is not None:
            deadlines.append(cache)
        return min(deadlines, default=None)

    def expire(self, now: int) -> Output:
        """DAD probes and completions, and the neighbour cache's solicitations, due now."""
        out: Output = []
        completed = False
        for address in sorted(a for a, (_sent, due) in self.tentative.items() if due <= now):
            sent, _due = self.tentative[address]
            if sent < self.dad_transmits:
                self.tentative[address] = (sent + 1, now + RETRANS_TIME_NS)
                out.append((0, self._dad_probe(address)))
            else:
                del self.tentative[address]
                self.usable.add(address)
                completed = completed or address == self.link_local
        if completed:
            out.append((0, self._report(self.link_local or UNSPECIFIED)))
        solicits, failed = self.neighbours.due(now)
        out += [(0, frame) for frame in (self._solicit(s) for s in solicits) if frame is not None]
        for _ip, packets in failed:
            for _frame, owner in packets:
                self.count("dropped_unresolved6")
                if owner is not None:
                    owner.errors += 1
        return out

    # -- sending --------------------------------------------------------------------------------------
    def _solicit(self, solicit: Solicit) -> bytes | None:
        """A neighbour solicitation for ``solicit.target``: to its solicited-node group, or unicast to its MAC."""
        source = self.source_for(solicit.target)
        if source is None:
            return None
        if solicit.mac is None:
            dst = solicited_node(solicit.target)
            dst_mac = multicast_mac(dst)
        else:
            dst, dst_mac = solicit.target, solicit.mac
        self.count("ns_sent")
        body = bytes((ND_NEIGHBOR_SOLICIT, 0, 0, 0, 0, 0, 0, 0)) + solicit.target + bytes((ND_OPT_SOURCE_LL, 1)) \
            + self.mac
        return bytes(icmp6_frame(dst_mac, self.mac, source, dst, body, 255))

    def _advert(self, dst_mac: bytes, dst: bytes, target: bytes, flags: int, with_mac: bool = True) -> bytes:
        self.count("na_sent")
        body = bytes((ND_NEIGHBOR_ADVERT, 0, 0, 0, flags, 0, 0, 0)) + target
        if with_mac:
            body += bytes((ND_OPT_TARGET_LL, 1)) + self.mac
        return bytes(icmp6_frame(dst_mac, self.mac, target, dst, body, 255))

    def send_ip6(self, frame: bytearray, now: int, owner: Any = None) -> Output:
        """Transmit an IPv6 ``frame`` (destination MAC still open): to a group's MAC, or resolved by NDP."""
        dst = bytes(frame[IP6_DST])
        if frame[IP6_SRC] == UNSPECIFIED or bytes(frame[IP6_SRC]) not in self.usable:
            self.count("no_source_address")  # tentative or duplicate: Linux cannot send from it either
            if owner is not None:
                owner.errors += 1
            return []
        if dst[0] == 0xFF:
            frame[ETH_DST] = multicast_mac(dst)
            return [(0, self.host._own(bytes(frame), owner))]
        if not self.on_link(dst):
            self.count("no_route")
            return []
        mac, solicit = self.neighbours.output(dst, (frame, owner), now)
        if mac is not None:
            frame[ETH_DST] = mac
            return [(0, self.host._own(bytes(frame), owner))]
        probe = self._solicit(solicit) if solicit is not None else None
        return [(0, probe)] if probe is not None else []

    def _template(self, dst: IPv6Address, next_header: int, payload: bytes) -> bytearray:
        source = self.source_for(dst.packed) or UNSPECIFIED  # :: (not usable) is refused when sent
        return ipv6_frame(_ZERO_MAC, self.mac, source, dst.packed, next_header, payload, self.hop_limit)

    def ping_template(self, session: Any) -> bytes:
        """The echo request ``session`` sends, its destination MAC zero until NDP resolves it."""
        body = bytes((ICMP6_ECHO_REQUEST, 0, 0, 0)) + session.ident.to_bytes(2, "big") + bytes(2) \
            + ping_payload(session.size)
        return bytes(self._template(session.dst_ip, IPPROTO_ICMPV6, body))

    def ping_send(self, session: Any, seq: int, now: int, template: bytes | None = None) -> Output:
        """Echo request ``seq`` of ``session``."""
        frame = bytearray(template if template is not None else self.ping_template(session))
        frame[ICMP6_SEQ] = (seq & 0xFFFF).to_bytes(2, "big")
        frame[IP6_SRC] = self.source_for(bytes(frame[IP6_DST])) or UNSPECIFIED  # DAD may have ended since
        set_icmp6_checksum(frame)
        session.record_sent(seq, now)
        self.pings[session.ident] = session
        self.count("echo6_requests_sent")
        return self.send_ip6(frame, now, session)

    def udp_template(self, session: Any) -> bytes:
        """The UDP datagram ``session`` sends, its destination MAC zero until NDP resolves it."""
        size = 8 + session.size
        udp = session.sport.to_bytes(2, "big") + session.dport.to_bytes(2, "big") + size.to_bytes(2, "big") \
            + bytes(2) + bytes(session.size)
        return bytes(self._template(session.dst_ip, IPPROTO_UDP6, udp))

    def udp_send(self, session: Any, seq: int, now: int, template: bytes) -> Output:
        """Datagram ``seq`` of ``session``: the sequence number in its first 4 data bytes."""
        frame = bytearray(template)
        if session.size >= 4:
            frame[UDP6_SEQ] = (seq & 0xFFFFFFFF).to_bytes(4, "big")
        frame[IP6_SRC] = self.source_for(bytes(frame[IP6_DST])) or UNSPECIFIED
        set_udp6_checksum(frame)
        session.record_sent(seq, now)
        self.udp_senders[session.sport] = session
        self.count("udp6_sent")
        return self.send_ip6(frame, now, session)

    # -- receiving ------------------------------------------------------------------------------------
    def receive(self, frame: bytes, now: int) -> Output:
        """An IPv6 frame the NIC accepted."""
        if len(frame) < IP6_PAYLOAD or frame[14] >> 4 != 6:
            self.count("bad_ipv6_header")
            return []
        end = IP6_PAYLOAD + int.from_bytes(frame[IP6_PLEN], "big")
        if end > len(frame):
            self.count("bad_ipv6_header")
            return []
        dst, src = frame[IP6_DST], frame[IP6_SRC]
        unicast = dst in self.addresses
        if not unicast and dst != ALL_NODES and dst not in self.groups:
            self.count("not_our_address")
            return []
        proto, payload = frame[IP6_NEXT], frame[IP6_PAYLOAD:end]
        if proto == IPPROTO_ICMPV6:
            if len(payload) < 4 or checksum6(src, dst, IPPROTO_ICMPV6, payload):
                self.count("bad_checksum")
                return []
            return self._icmp6_in(frame, payload, unicast, now)
        if proto == IPPROTO_UDP6 and (unicast and dst in self.usable):
            return self._udp6_in(frame, payload, now)
        self.count("ignored")  # hop-by-hop (others' MLD reports), other protocols
        return []

    def _icmp6_in(self, frame: bytes, icmp: bytes, unicast: bool, now: int) -> Output:
        kind = icmp[0]
        if kind == ND_NEIGHBOR_SOLICIT:
            return self._ns_in(frame, icmp, now)
        if kind == ND_NEIGHBOR_ADVERT:
            return self._na_in(frame, icmp, now)
        dst = frame[IP6_DST]
        if unicast and dst not in self.usable:
            self.count("to_tentative_address")
            return []
        if kind == ICMP6_ECHO_REQUEST:
            self.count("echo6_requests_received")
            source = dst if unicast else self.source_for(frame[IP6_SRC])
            if source is None:
                return []
            reply = bytearray(frame[:IP6_PAYLOAD + len(icmp)])
            reply[ETH_SRC], reply[IP6_SRC], reply[IP6_DST] = self.mac, source, frame[IP6_SRC]
            reply[IP6_HLIM], reply[ICMP6_TYPE] = self.hop_limit, ICMP6_ECHO_REPLY
            set_icmp6_checksum(reply)
            self.count("echo6_replies_sent")
            return self.send_ip6(reply, now)
        if kind == ICMP6_ECHO_REPLY:
            self.count("echo6_replies_received")
            session = self.pings.get(int.from_bytes(frame[ICMP6_ID], "big"))
            if session is not None and session.dst_ip.packed == frame[IP6_SRC]:
                session.record_answer(int.from_bytes(frame[ICMP6_SEQ], "big"), now)
            return []
        self.count("mld_received" if kind == MLD2_REPORT else "icmp6_other_received")
        return []

    def _ns_in(self, frame: bytes, icmp: bytes, now: int) -> Output:
        if frame[IP6_HLIM] != 255 or len(icmp) < 24 or icmp[1]:
            self.count("bad_nd")  # RFC 4861 7.1.1
            return []
        self.count("ns_received")
        target, src = frame[ND_TARGET], frame[IP6_SRC]
        if target not in self.addresses or target in self.duplicates:
            return []
        if target in self.tentative:
            looped = _option(icmp, ND_OPT_NONCE) == self._nonce(target)  # ours, reflected back (macvlan private)
            if src == UNSPECIFIED and not looped:
                self._dad_failed(target)  # someone else is probing the same address
            return []
        if src == UNSPECIFIED:  # their DAD for our address: tell all nodes (RFC 4861 7.2.4)
            return [(0, self._advert(multicast_mac(ALL_NODES), ALL_NODES, target, NA_OVERRIDE))]
        sender_mac = _option(icmp, ND_OPT_SOURCE_LL)
        out = self._send_released(self.neighbours.solicited_by(src, sender_mac, now) if sender_mac else [])
        # the answer to a multicast solicitation carries our MAC and overrides; to a unicast one (a probe), neither
        # (ndisc_recv_ns: inc_opt and override follow the solicitation's destination)
        multicast = frame[IP6_DST] != target
        reply = bytearray(self._advert(_ZERO_MAC, src, target, NA_SOLICITED | (NA_OVERRIDE if multicast else 0),
                                       with_mac=multicast))
        return out + self.send_ip6(reply, now)

    def _na_in(self, frame: bytes, icmp: bytes, now: int) -> Output:
        if frame[IP6_HLIM] != 255 or len(icmp) < 24 or icmp[1]:
            self.count("bad_nd")
            return []
        self.count("na_received")
        target, flags = frame[ND_TARGET], icmp[4]
        if target in self.tentative:
            self._dad_failed(target)
            return []
        if target in self.addresses:
            return []
        mac = _option(icmp, ND_OPT_TARGET_LL)
        return self._send_released(self.neighbours.advertised(target, mac, bool(flags & NA_SOLICITED),
                                                              bool(flags & NA_OVERRIDE), now))

    def _send_released(self, released: list[tuple[Any, bytes]]) -> Output:
        out: Output = []
        for (packet, owner), mac in released:
            packet[ETH_DST] = mac
            out.append((0, self.host._own(bytes(packet), owner)))
        return out

    def _udp6_in(self, frame: bytes, udp: bytes, now: int) -> Output:
        end = IP6_PAYLOAD + len(udp)
        if end < UDP6_DATA or int.from_bytes(frame[UDP6_LEN], "big") != len(udp):
            self.count("bad_udp_length")
            return []
        src, dst = frame[IP6_SRC], frame[IP6_DST]
        zeroed = frame[IP6_PAYLOAD:UDP6_CHECKSUM.start] + b"\0\0" + frame[UDP6_DATA:end]
        stored = frame[UDP6_CHECKSUM]
        if stored == b"\0\0" or checksum6(src, dst, IPPROTO_UDP6, zeroed) != int.from_bytes(stored, "big"):
            self.count("bad_checksum")  # a zero UDP checksum is invalid over IPv6 (RFC 8200 8.1)
            return []
        sport, dport = int.from_bytes(frame[UDP6_SPORT], "big"), int.from_bytes(frame[UDP6_DPORT], "big")
        self.count("udp6_received")
        self.host.count_datagram(src, dport)
        sender = self.udp_senders.get(dport)
        if sender is not None and sport == sender.dport and sender.dst_ip.packed == src:
            if end >= UDP6_SEQ.stop:
                sender.record_answer(int.from_bytes(frame[UDP6_SEQ], "big"), now)
            return []
        if dport == UDP_ECHO_PORT:
            self.count("udp6_echoed")
            reply = bytearray(frame[:IP6_PAYLOAD + len(udp)])
            reply[ETH_SRC], reply[IP6_SRC], reply[IP6_DST], reply[IP6_HLIM] = self.mac, dst, src, self.hop_limit
            reply[UDP6_SPORT], reply[UDP6_DPORT] = frame[UDP6_DPORT], frame[UDP6_SPORT]  # keeps the checksum
            return self.send_ip6(reply, now)
        if dport == UDP_DISCARD_PORT:
            self.count("udp6_discarded")
            return []
        self.count("port_unreachable6_sent")
        quoted = frame[IP6:end][:_ICMP6_ERROR_LEN - IP6_HEADER_LEN - 8]
        reply = bytearray(icmp6_frame(_ZERO_MAC, self.mac, dst, src, bytes((ICMP6_DEST_UNREACH, ICMP6_PORT_UNREACH,
                                                                          0, 0, 0, 0, 0, 0)) + quoted,
                                      self.hop_limit))
        return self.send_ip6(reply, now)


def _option(icmp: bytes, kind: int) -> bytes | None:
    """The 6 bytes of the first option of ``kind`` in an NS or NA (a source or target link-layer address, or a
    nonce), or None."""
    at = ND_OPTIONS - IP6_PAYLOAD
    while at + 2 <= len(icmp):
        length = icmp[at + 1] * 8
        if length == 0 or at + length > len(icmp):
            return None
        if icmp[at] == kind and length == 8:
            return icmp[at + 2:at + length]
        at += length
    return None

