"""A real station on an emulated NIC: frames the NIC accepts go out to a real device, and what the device sends
comes in as the NIC's own transmissions.

A ``LiveStation`` takes the place of a guest stack on the NIC (``nic.stack``): the datapath hands it every frame
the NIC's filter accepts, as it would a stack, and it writes them to an AF_PACKET socket on the veth's outside
end; ``read`` returns what the real stack sent, which the pacer transmits from the NIC (so padding, counters and
captures apply as to any frame).
"""

from __future__ import annotations

import socket
import struct
from contextlib import nullcontext
from typing import Any, Iterable, Optional

from ..kernel.netns import in_netns
from ..l2.nic import NIC
from .sockets import drain

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # what this socket itself sent, seen again: not the station's
SOL_PACKET, PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC = 263, 1, 1  # <linux/if_packet.h>


class LiveStation:
    """The real device behind ``nic``: an AF_PACKET socket bound to ``ifname`` in namespace ``netns`` (None: this
    process's own). ``promiscuous``: the device takes frames for any MAC while the socket is open (a real NIC's
    filter would drop those for the station's MAC, which is not its own); the kernel undoes it on close."""

    def __init__(self, nic: NIC, ifname: str, netns: Optional[str], promiscuous: bool = False) -> None:
        self.nic = nic
        self.ifname = ifname
        with in_netns(netns) if netns is not None else nullcontext():
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.bind((ifname, 0))
        if promiscuous:
            index = socket.if_nametoindex(ifname)
            self.sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, struct.pack("iHH8s", index, PACKET_MR_PROMISC, 0,
                                                                                b""))
        self.sock.setblocking(False)
        self.to_device = 0
        self.from_device = 0
        self.refused = 0  # frames the device would not take (down, or larger than its MTU)

    # -- what the datapath calls on a NIC's stack --------------------------------------------------------
    def receive(self, frame: bytes, now: int) -> Iterable[tuple[int, bytes]]:
        """A frame the NIC accepted: out to the real station."""
        try:
            self.sock.send(frame)
            self.to_device += 1
        except OSError:
            self.refused += 1
        return ()

    def link_up(self, now: int) -> Iterable[tuple[int, bytes]]:
        return ()

    # -- what the pacer calls -----------------------------------------------------------------------------
    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self) -> list[bytes]:
        """Every frame the real station has sent since the last call."""
        return drain(self.sock, 65535, self._sent_by_station)

    def _sent_by_station(self, frame: bytes, address: Any) -> Optional[bytes]:
        if address[2] == PACKET_OUTGOING:  # address: (ifname, protocol, packet type, ...)
            return None
        self.from_device += 1
        return frame

    def close(self) -> None:
        self.sock.close()

    def __repr__(self) -> str:
        return f"<LiveStation {self.nic.full_name} <-> {self.ifname}>"
