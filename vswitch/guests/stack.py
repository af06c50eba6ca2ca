"""A small IPv4 guest stack for a NIC or vNIC: ARP, ICMP echo, UDP echo and discard, gratuitous ARP.

Sans-IO on ``bytes`` and the virtual clock (the h11/aioquic pattern): ``receive(frame, now)`` and the
application calls (``ping_send``, ``arping_send``, ``udp_send``) *return* the frames to transmit as
``(delay_ns, frame)`` pairs; timers are ``next_deadline()`` and ``expire(now)``. ``stackdriver.py`` connects a
stack to a network. Frames come from Scapy-built templates (every field explicit, in ``traffic.py``) whose
varying fields are patched in bytes, with correct IPv4, ICMP and UDP checksums.

Behaviour follows Linux with its defaults where it matters on the wire:

- ARP requests for our address are answered (unicast to the asker) and create an entry for the asker; ARP from
  an address already cached (a gratuitous ARP after a migration) updates its entry; other ARP creates nothing
  (``arp_accept=0``). Packets to unresolved addresses wait for resolution (``arp.py``).
- ICMP echo requests to our address are answered; broadcast pings are ignored (``icmp_echo_ignore_broadcasts``).
- UDP to port 7 is echoed back, to port 9 discarded; to another port of our address it draws an ICMP port
  unreachable. Every datagram received is counted by (source, port) for expectations.
- ``link_up`` sends a gratuitous ARP request when ``arp_notify`` is on (on by default here; Linux's default is
  off); ``announce`` sends one regardless (Xen netfront after a migration).
- Bad IPv4 or ICMP/UDP checksums, fragments, IP options and tagged frames are counted and ignored.

An IPv6-only interface (``interface`` None, its ``ipv6`` half given) has no IPv4 address: its IPv4 half matches
nothing (no address, no subnet, no broadcast), so ARP and IPv4 are counted and ignored without a test on the
per-frame path, as Linux ignores them on an interface without an IPv4 address; the IPv4 application calls refuse.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from ipaddress import IPv4Address, IPv4Interface, ip_address

from ..core import checks
from ..core.errors import AddressError, ScenarioError
from ..core.frame import ETH_DST, ETH_SRC
from ..core.mac import BROADCAST_BYTES, MACAddress
from .arp import DEFAULT_TIMEOUT_NS, ArpCache
from .headers import ARP_FORMAT_AT, ARP_FORMAT_END, ARP_LEN, ARP_OP_AT, ARP_SHA_AT, ARP_SHA_END, ARP_SPA_AT, \
    ARP_SPA_END, ARP_THA, ARP_TPA, ARP_TPA_AT, ARP_TPA_END, ETH_P_ARP, ETH_P_IP, ETH_TYPE_AT, ETH_TYPE_END, \
    ICMP_CHECKSUM, ICMP_CHECKSUM_AT, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMP_HEADER_LEN, \
    ICMP_ID_AT, ICMP_SEQ, ICMP_SEQ_AT, ICMP_TYPE, ICMP_TYPE_CODE, ICMP_TYPE_CODE_AT, \
    ICMP_TYPE_CODE_END, IP, IP_DST, IP_DST_AT, IP_DST_END, IP_FRAGMENT, IP_FRAGMENT_AT, IP_HEADER_AT, IP_HEADER_END, \
    IP_HEADER_LEN, IP_ID, IP_PAYLOAD, IP_PROTO, IP_SRC, IP_SRC_AT, IP_SRC_END, IP_TOTAL_LEN, IP_TOTAL_LEN_AT, IP_TTL, \
    IP_VERSION_IHL, IPPROTO_ICMP, IPPROTO_UDP, UDP_CHECKSUM, UDP_CHECKSUM_AT, UDP_CHECKSUM_END, UDP_DATA, UDP_DPORT, \
    UDP_DPORT_AT, UDP_DPORT_END, UDP_LEN_AT, UDP_SEQ, UDP_SEQ_AT, UDP_SEQ_END, UDP_SPORT, UDP_SPORT_AT, \
    UDP_SPORT_END
from .inet import checksum, interface_value, ip_header_ok, number, set_ip_checksum, u16, udp_checksum_ok, \
    update_checksum
from .sessions import ArpingSession, PingSession, UdpSession
from .traffic import ARP_REPLY, ARP_REQUEST, ZERO_MAC, icmp_echo_frame, stack_templates, udp_frame

Output = list[tuple[int, bytes]]
UDP_ECHO_PORT = 7
UDP_DISCARD_PORT = 9
_ARP_FORMAT = bytes.fromhex("0001 0800 06 04")  # Ethernet (1), IPv4 (0x0800), 6-byte MACs, 4-byte addresses
_IPV4_WITHOUT_OPTIONS = 0x45
_ICMP_ERROR_IP_LEN = 576  # an ICMP error's IP packet at most (RFC 1812 4.3.2.3; Linux's icmp_send)
_TYPE_IP, _TYPE_ARP = ETH_P_IP.to_bytes(2, "big"), ETH_P_ARP.to_bytes(2, "big")
_TYPE_IPV6 = b"\x86\xdd"
_ZERO = bytes(6)


def ping_payload(size: int) -> bytes:
    """The data of a ping of ``size`` bytes: byte i is i & 0xff (iputils fills after its timestamp likewise)."""
    return bytes(i & 0xFF for i in range(size))


class GuestStack:
    """IPv4 host on one interface with MAC ``mac`` and address ``interface`` (``192.0.2.10/24``: a literal with its
    prefix or an ``IPv4Interface``; anything else raises ``AddressError``); ``interface`` None: no IPv4 address (an
    IPv6-only interface, once its ``ipv6`` half is set)."""

    def __init__(self, name: object, mac: object, interface: object, *, arp_timeout_ns: object = DEFAULT_TIMEOUT_NS,
                 arp_notify: object = True, ttl: object = 64) -> None:
        """``mac``: a ``MACLike``; ``interface``: an ``IPv4Interface``, its text or None. A wrong type or value is a
        ``TopologyError`` (an ``AddressError`` for ``mac`` and ``interface``), in both builds (they take
        ``object``)."""
        self.name = checks.text(name, "GuestStack: name")
        self.mac = MACAddress(mac)
        try:
            self.interface: IPv4Interface | None = None if interface is None else interface_value(interface)
        except AddressError as exc:
            raise AddressError(f"guest {self.name}: interface: {exc}") from None
        self.ip: IPv4Address | None = self.interface.ip if self.interface is not None else None
        self.arp = ArpCache(checks.integer(arp_timeout_ns, f"guest {name}: arp_timeout_ns", minimum=1))
        self.arp_notify = checks.flag(arp_notify, f"guest {name}: arp_notify")
        self.ttl = checks.integer(ttl, f"guest {name}: ttl", minimum=1, maximum=255)
        self._counts: dict[str, int] = {}  # what ``counters`` shows: a plain dict, the cheapest to count in
        self._udp_counts: dict[tuple[bytes, int], int] = {}  # (source address, destination port) -> datagrams
        self.pings: dict[int, PingSession] = {}  # ICMP identifier -> session
        self.arpings: dict[bytes, ArpingSession] = {}  # target address -> session
        self.udp_senders: dict[int, UdpSession] = {}  # our source port -> session
        self._mac = self.mac.packed
        if self.interface is not None:
            network = self.interface.network
            self._ip = self.interface.ip.packed
            self._broadcasts = {network.broadcast_address.packed, b"\xff" * 4}
            self._netmask, self._subnet = int(network.netmask), int(network.network_address)  # on_link, on ints
        else:  # no IPv4 address: nothing is ours, nothing on-link (a masked address is never -1)
            self._ip, self._broadcasts, self._netmask, self._subnet = b"", set(), 0, -1
        self._udp_peers: dict[int, bytes] = {}  # our source port -> the address its UdpSession sends to
        self._ping_peers: dict[int, bytes] = {}  # ICMP identifier -> the address its PingSession pings
        self._ip_id = 0
        self.ipv6: Any = None  # the IPv6 half (ipv6.Ipv6Stack) of an interface given ip6 or a link-local address
        #: None, or (while someone names a session's frames: ``StackDriver.name_frames``) the probes returned since
        #: the driver last looked, by ``id()`` of their bytes: (frame, session).
        self.owned: dict[int, tuple[bytes, object]] | None = None
        # Templates, built once with Scapy; per frame only addresses, ids and checksums are patched (without an
        # IPv4 address they are never sent: nothing is answered and the IPv4 application calls refuse).
        self._arp_request, self._arp_reply, self._unreachable = stack_templates(
            self._mac, self._ip or bytes(4), self.ttl)

    def __repr__(self) -> str:
        return f"<GuestStack {self.name} {self.mac} {self.interface}>"

    # -- addresses --------------------------------------------------------------------------------------
    def on_link(self, address: IPv4Address) -> bool:
        """Whether ``address`` is in this interface's subnet (reached directly, without a router)."""
        return self.interface is not None and address in self.interface.network

    def _ipv4(self, what: str) -> IPv4Address:
        """Our IPv4 address, for an IPv4 application call (``what``); a ScenarioError on an IPv6-only interface."""
        if self.ip is None:
            raise ScenarioError(f"{self.name} has no IPv4 address: {what} needs one (ip: 192.0.2.10/24), or send "
                                "over IPv6")
        return self.ip

    def _on_link(self, packed: bytes) -> bool:
        """``on_link`` for the 4 bytes of an address in a frame (no ``IPv4Address`` per packet)."""
        return number(packed) & self._netmask == self._subnet

    @property
    def counters(self) -> Counter[str]:
        """What the stack did, by name (``udp_received``, ``echo_requests_sent``...), for reports and tests."""
        return Counter(self._counts)

    def count(self, what: str) -> None:
        """Count one event of kind ``what`` (the IPv6 half counts in the same table)."""
        self._counts[what] = self._counts.get(what, 0) + 1

    @property
    def udp_received(self) -> Counter[tuple[str, int]]:
        """Datagrams received by (source address as text, destination port), for expectations and reports."""
        return Counter({(str(ip_address(src)), port): n for (src, port), n in self._udp_counts.items()})

    def count_datagram(self, src: bytes, dport: int) -> None:
        """One datagram received from address ``src`` (4 bytes, or IPv6's 16) to our port ``dport``."""
        key = (src, dport)
        self._udp_counts[key] = self._udp_counts.get(key, 0) + 1

    def gratuitous_arp(self) -> bytes:
        """A broadcast ARP request for our own address (sender = target = us), as Linux sends it."""
        frame = bytearray(self._arp_request)
        frame[ARP_TPA] = self._ip
        return bytes(frame)

    def link_up(self, now: int) -> Output:
        """The frames to send when the link comes up: a gratuitous ARP if ``arp_notify`` is on; IPv6's MLD
        report and DAD."""
        out: Output = self.ipv6.link_up(now) if self.ipv6 is not None else []
        if not self.arp_notify or self.ip is None:
            return out
        self.count("gratuitous_arp_sent")
        return [(0, self.gratuitous_arp())] + out

    def announce(self, now: int) -> Output:
        """Tell the LAN where we are now (Xen netfront after a migration): a gratuitous ARP, and IPv6's
        unsolicited neighbour advertisements (each for the family it has)."""
        out: Output = self.ipv6.announce(now) if self.ipv6 is not None else []
        if self.ip is None:
            return out
        self.count("gratuitous_arp_sent")
        return [(0, self.gratuitous_arp())] + out

    # -- timers -----------------------------------------------------------------------------------------
    def next_deadline(self) -> int | None:
        """The virtual time of the stack's next timer (an ARP retry or expiry, IPv6's DAD and NDP), or None."""
        deadline = self.arp.next_deadline()
        if self.ipv6 is not None:
            other = self.ipv6.next_deadline()
            if other is not None and (deadline is None or other < deadline):
                return other
        return deadline

    def expire(self, now: int) -> Output:
        """ARP retransmissions due now; packets of failed resolutions are dropped (and counted)."""
        retry, failed = self.arp.due(now)
        out = [(0, self._request_for(ip)) for ip in retry]
        if self.ipv6 is not None:
            out += self.ipv6.expire(now)
        for _ip, packets in failed:
            for _frame, owner in packets:
                self.count("dropped_unresolved")
                if owner is not None:
                    owner.errors += 1
        return out

    # -- sending --------------------------------------------------------------------------------------
    def _request_for(self, ip: bytes) -> bytes:
        self.count("arp_requests_sent")
        return self._arp_request[:ARP_TPA.start] + ip

    def _next_ip_id(self) -> bytes:
        self._ip_id = (self._ip_id + 1) & 0xFFFF
        return self._ip_id.to_bytes(2, "big")

    def send_ip(self, frame: bytearray, now: int, owner: object = None) -> Output:
        """Transmit an IPv4 ``frame`` (destination MAC still open): resolve its destination, or queue it."""
        dst = bytes(frame[IP_DST])
        if dst in self._broadcasts:
            frame[ETH_DST] = BROADCAST_BYTES
            return [(0, self._own(bytes(frame), owner))]
        if not self._on_link(dst):
            self.count("no_route")  # no gateways are modelled: only the own subnet is reachable
            return []
        mac = self.arp.lookup(dst, now)
        if mac is not None:
            frame[ETH_DST] = mac
            return [(0, self._own(bytes(frame), owner))]
        if self.arp.resolve(dst, (frame, owner), now):
            return [(0, self._request_for(dst))]
        return []

    def _own(self, frame: bytes, owner: object) -> bytes:
        """``frame``, noted as ``owner``'s when its frames are being named."""
        if self.owned is not None and owner is not None:
            self.owned[id(frame)] = (frame, owner)
        return frame

    def ping_send(self, session: object, seq: int, now: int, template: bytes | None = None) -> Output:
        """Echo request ``seq`` of ``session``, a ``PingSession`` (built from the session's template, patched)."""
        if not isinstance(session, PingSession):
            raise _wrong_session(session, PingSession, "ping_send")
        if template is None:
            template = self.ping_template(session)
        frame = bytearray(template)
        frame[IP_ID] = self._next_ip_id()
        set_ip_checksum(frame)
        seq_bytes = (seq & 0xFFFF).to_bytes(2, "big")
        old = number(frame[ICMP_CHECKSUM])
        frame[ICMP_CHECKSUM] = update_checksum(old, frame[ICMP_SEQ], seq_bytes).to_bytes(2, "big")
        frame[ICMP_SEQ] = seq_bytes
        session.record_sent(seq, now)
        if self.pings.get(session.ident) is not session:
            self.pings[session.ident] = session
            self._ping_peers[session.ident] = session.dst_ip.packed
        self.count("echo_requests_sent")
        return self.send_ip(frame, now, session)

    def ping_template(self, session: PingSession) -> bytes:
        """The ICMP echo request ``session`` sends, destination MAC zero until ARP resolves it."""
        return icmp_echo_frame(self.mac, ZERO_MAC, src_ip=str(self._ipv4("ping")), dst_ip=str(session.dst_ip),
                               ident=session.ident, seq=0, payload=ping_payload(session.size), ttl=self.ttl)

    def arping_send(self, session: object, seq: int, now: int) -> Output:
        """ARP request ``seq`` for the target of ``session``, an ``ArpingSession``: broadcast until a reply names the
        target's MAC."""
        if not isinstance(session, ArpingSession):
            raise _wrong_session(session, ArpingSession, "arping_send")
        self._ipv4("arping")
        target = session.dst_ip.packed
        dst = session.target_mac or BROADCAST_BYTES
        frame = dst + self._arp_request[ETH_SRC.start:ARP_THA.start] + dst + target
        session.record_sent(seq, now)
        self.arpings[target] = session
        self.count("arp_requests_sent")
        return [(0, self._own(frame, session))]

    def udp_template(self, session: UdpSession) -> bytes:
        """The UDP datagram ``session`` sends, destination MAC zero until ARP resolves it."""
        return udp_frame(self.mac, ZERO_MAC, src_ip=str(self._ipv4("udp")), dst_ip=str(session.dst_ip),
                         sport=session.sport, dport=session.dport, payload=bytes(session.size), ttl=self.ttl)

    def udp_send(self, session: object, seq: int, now: int, template: bytes) -> Output:
        """Datagram ``seq`` of ``session``, a ``UdpSession``: the template with a fresh IP id and the sequence number
        in its data."""
        if not isinstance(session, UdpSession):
            raise _wrong_session(session, UdpSession, "udp_send")
        frame = bytearray(template)
        frame[IP_ID] = self._next_ip_id()
        set_ip_checksum(frame)
        if session.size >= 4:
            seq_bytes = (seq & 0xFFFFFFFF).to_bytes(4, "big")
            old = number(frame[UDP_CHECKSUM])
            if old:  # 0 means "no checksum" (never the case for ours)
                new = update_checksum(old, frame[UDP_SEQ], seq_bytes)
                frame[UDP_CHECKSUM] = (new or 0xFFFF).to_bytes(2, "big")
            frame[UDP_SEQ] = seq_bytes
        session.record_sent(seq, now)
        if self.udp_senders.get(session.sport) is not session:
            self.udp_senders[session.sport] = session
            self._udp_peers[session.sport] = session.dst_ip.packed
        self.count("udp_sent")
        return self.send_ip(frame, now, session)

    # -- receiving ------------------------------------------------------------------------------------
    def receive(self, frame: bytes, now: int) -> Output:
        """A frame the NIC accepted: answer it, learn from it, or count and ignore it."""
        kind = frame[ETH_TYPE_AT:ETH_TYPE_END]
        if kind == _TYPE_ARP:
            return self._arp_in(frame, now)
        if kind == _TYPE_IP:
            return self._ip_in(frame, now)
        if kind == _TYPE_IPV6 and self.ipv6 is not None:
            return self.ipv6.receive(frame, now)
        self.count("ignored")
        return []

    def _arp_in(self, frame: bytes, now: int) -> Output:
        if len(frame) < ARP_LEN or frame[ARP_FORMAT_AT:ARP_FORMAT_END] != _ARP_FORMAT:
            self.count("ignored")
            return []
        op = u16(frame, ARP_OP_AT)
        sha, spa, tpa = frame[ARP_SHA_AT:ARP_SHA_END], frame[ARP_SPA_AT:ARP_SPA_END], frame[ARP_TPA_AT:ARP_TPA_END]
        out: Output = []
        for_us = tpa == self._ip
        self.count("arp_requests_received" if op == ARP_REQUEST else "arp_replies_received")
        valid_sender = not (sha[0] & 1) and sha != _ZERO and spa != bytes(4) and spa != self._ip
        if valid_sender and self._on_link(spa):
            if (for_us and op == ARP_REQUEST) or spa in self.arp.entries or spa in self.arp.pending:
                for packet, owner in self.arp.confirm(spa, sha, now):
                    packet[ETH_DST] = sha
                    out.append((0, self._own(bytes(packet), owner)))
        if op == ARP_REQUEST and for_us and not (sha[0] & 1):
            reply = bytearray(self._arp_reply)
            reply[ETH_DST] = reply[ARP_THA] = sha
            reply[ARP_TPA] = spa
            self.count("arp_replies_sent")
            out.append((0, bytes(reply)))
        elif op == ARP_REPLY and for_us:
            session = self.arpings.get(spa)
            if session is not None:
                session.record_reply(sha, now)
        return out

    def _ip_in(self, frame: bytes, now: int) -> Output:
        if len(frame) < IP_PAYLOAD or frame[IP_VERSION_IHL] != _IPV4_WITHOUT_OPTIONS:
            self.count("ignored")
            return []
        total = u16(frame, IP_TOTAL_LEN_AT)
        if total < IP_HEADER_LEN or IP + total > len(frame) or not ip_header_ok(frame):
            self.count("bad_ip_header")
            return []
        if u16(frame, IP_FRAGMENT_AT) & 0x3FFF:  # MF or a fragment offset
            self.count("ignored")
            return []
        dst = frame[IP_DST_AT:IP_DST_END]
        unicast = dst == self._ip
        if not unicast and dst not in self._broadcasts:
            self.count("not_our_address")
            return []
        proto, payload = frame[IP_PROTO], frame[IP_PAYLOAD:IP + total]
        if proto == IPPROTO_ICMP:
            return self._icmp_in(frame, payload, unicast, now)
        if proto == IPPROTO_UDP:
            return self._udp_in(frame, payload, unicast, now)
        self.count("ignored")
        return []

    def _icmp_in(self, frame: bytes, icmp: bytes, unicast: bool, now: int) -> Output:
        if len(icmp) < ICMP_HEADER_LEN or checksum(icmp):
            self.count("bad_checksum")
            return []
        kind = frame[ICMP_TYPE]
        if kind == ICMP_ECHO_REQUEST and unicast:  # answer with the same identifier, sequence and data
            self.count("echo_requests_received")
            self.count("echo_replies_sent")
            reply = bytearray(frame[:IP_PAYLOAD + len(icmp)])
            self._turn_around(reply, frame)
            reply[ICMP_TYPE] = ICMP_ECHO_REPLY  # the only byte of the ICMP message that changes
            old_sum = u16(frame, ICMP_CHECKSUM_AT)
            new_sum = update_checksum(old_sum, frame[ICMP_TYPE_CODE_AT:ICMP_TYPE_CODE_END], reply[ICMP_TYPE_CODE])
            reply[ICMP_CHECKSUM] = new_sum.to_bytes(2, "big")
            return self.send_ip(reply, now)
        if kind == ICMP_ECHO_REPLY:
            self.count("echo_replies_received")
            ident = u16(frame, ICMP_ID_AT)
            session = self.pings.get(ident)
            if session is not None and frame[IP_SRC_AT:IP_SRC_END] == self._ping_peers[ident]:
                session.record_answer(u16(frame, ICMP_SEQ_AT), now)
            return []
        self.count("icmp_other_received")
        return []

    def _udp_in(self, frame: bytes, udp: bytes, unicast: bool, now: int) -> Output:
        end = IP_PAYLOAD + len(udp)
        if end < UDP_DATA or u16(frame, UDP_LEN_AT) != len(udp):
            self.count("bad_udp_length")
            return []
        src = frame[IP_SRC_AT:IP_SRC_END]
        has_checksum = frame[UDP_CHECKSUM_AT:UDP_CHECKSUM_END] != b"\0\0"  # 0: the sender computed none
        if has_checksum and not udp_checksum_ok(src, frame[IP_DST_AT:IP_DST_END], udp):
            self.count("bad_checksum")
            return []
        sport = u16(frame, UDP_SPORT_AT)
        dport = u16(frame, UDP_DPORT_AT)
        self.count("udp_received")
        self.count_datagram(src, dport)
        sender = self.udp_senders.get(dport)
        if sender is not None and sport == sender.dport and src == self._udp_peers[dport]:
            if end >= UDP_SEQ.stop:
                sender.record_answer(number(frame[UDP_SEQ_AT:UDP_SEQ_END]), now)
            return []
        if dport == UDP_ECHO_PORT and unicast:
            self.count("udp_echoed")
            reply = bytearray(frame[:end])
            self._turn_around(reply, frame)
            # swapping the ports keeps the checksum
            reply[UDP_SPORT], reply[UDP_DPORT] = frame[UDP_DPORT_AT:UDP_DPORT_END], frame[UDP_SPORT_AT:UDP_SPORT_END]
            return self.send_ip(reply, now)
        if dport == UDP_DISCARD_PORT:
            self.count("udp_discarded")
            return []
        if unicast:
            return self._port_unreachable(frame, udp, now)
        return []

    def _turn_around(self, reply: bytearray, request: bytes) -> None:
        """Make ``reply`` (a copy of ``request``) go back: our MAC and address as source, fresh id and TTL."""
        reply[ETH_SRC] = self._mac
        reply[IP_ID] = self._next_ip_id()
        reply[IP_FRAGMENT] = b"\0\0"
        reply[IP_TTL] = self.ttl
        reply[IP_SRC], reply[IP_DST] = self._ip, request[IP_SRC_AT:IP_SRC_END]
        set_ip_checksum(reply)

    def _port_unreachable(self, frame: bytes, udp: bytes, now: int) -> Output:
        """ICMP destination unreachable, port unreachable (type 3, code 3), quoting as much of the datagram as
        fits a 576-byte IP packet, as Linux does (RFC 792 asks for the header and 8 bytes at least)."""
        self.count("port_unreachable_sent")
        quoted = (frame[IP_HEADER_AT:IP_HEADER_END] + udp)[:_ICMP_ERROR_IP_LEN - IP_HEADER_LEN - ICMP_HEADER_LEN]
        reply = bytearray(self._unreachable) + quoted
        reply[IP_TOTAL_LEN] = (len(reply) - IP).to_bytes(2, "big")
        reply[IP_ID] = self._next_ip_id()
        reply[IP_DST] = frame[IP_SRC_AT:IP_SRC_END]
        set_ip_checksum(reply)
        reply[ICMP_CHECKSUM] = b"\0\0"
        reply[ICMP_CHECKSUM] = checksum(reply[IP_PAYLOAD:]).to_bytes(2, "big")
        return self.send_ip(reply, now)


def _wrong_session(session: object, kind: type, what: str) -> ScenarioError:
    """The error for an application call given something else than its session kind (checked per probe: an
    isinstance, cheap next to building the frame; the calls take ``object`` so both builds raise this)."""
    return ScenarioError(f"{what} takes a {kind.__name__}, not {checks.describe(session)}")
