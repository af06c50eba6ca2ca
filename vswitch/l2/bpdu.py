"""802.1D BPDUs on bytes, as the Linux bridge writes and reads them (``net/bridge/br_stp_bpdu.c``).

A BPDU is an 802.3 frame (a length, not an ethertype) to the bridge group address 01:80:c2:00:00:00 with an LLC
header DSAP 0x42, SSAP 0x42, control 0x03 (UI), then:

- a configuration BPDU, 35 bytes: protocol 0 (2 bytes), version 0, type 0x00, flags (0x01 topology change, 0x80
  topology change acknowledgement), root ID (8: priority, MAC), root path cost (4), bridge ID (8), port ID (2),
  message age, max age, hello time, forward delay (2 each, in 1/256 s);
- a topology change notification (TCN), 4 bytes: protocol 0, version 0, type 0x80.

``parse`` takes what ``br_stp_rcv`` takes: protocol 0 and version 0 only (a rapid-STP BPDU, version 2, is
ignored), a type the kernel knows, and a configuration BPDU's 35 bytes within the 802.3 length. The kernel counts
time in jiffies: timers are decoded ``DIV_ROUND_UP(ticks * HZ, 256)`` jiffies and encoded ``256 * jiffies / HZ``
ticks; this module does the same with HZ = 250 (Debian's kernels), a jiffy being ``JIFFY_NS``.
"""

from __future__ import annotations

from typing import Final, NamedTuple, Union

from ..core.frame import pad

STP_GROUP: Final = bytes.fromhex("0180c2000000")  #: the bridge group address (br->group_addr)
LLC_BPDU: Final = b"\x42\x42\x03"  #: DSAP, SSAP (LLC_SAP_BSPAN) and control (UI)
CONFIG_LEN: Final = 35
TCN_LEN: Final = 4
TYPE_CONFIG: Final = 0x00
TYPE_TCN: Final = 0x80
FLAG_TC: Final = 0x01
FLAG_TCA: Final = 0x80
HZ: Final = 250
JIFFY_NS: Final = 1_000_000_000 // HZ
STP_HZ: Final = 256


class ConfigBpdu(NamedTuple):
    """A configuration BPDU's fields; IDs are 8 bytes (priority, MAC), times in nanoseconds (whole jiffies)."""

    topology_change: bool
    topology_change_ack: bool
    root: bytes
    root_path_cost: int
    bridge_id: bytes
    port_id: int
    message_age_ns: int
    max_age_ns: int
    hello_time_ns: int
    forward_delay_ns: int


class TcnBpdu(NamedTuple):
    """A topology change notification: no fields."""


Bpdu = Union[ConfigBpdu, TcnBpdu]


def ticks(time_ns: int) -> int:
    """``br_set_ticks``: a time (in whole jiffies) as 1/256 s."""
    return (STP_HZ * (time_ns // JIFFY_NS)) // HZ


def from_ticks(value: int) -> int:
    """``br_get_ticks``: 1/256 s as nanoseconds, rounded up to a jiffy."""
    return -(-value * HZ // STP_HZ) * JIFFY_NS


def _frame(src: bytes, body: bytes) -> bytes:
    length = len(LLC_BPDU) + len(body)
    return pad(STP_GROUP + src + length.to_bytes(2, "big") + LLC_BPDU + body)


def config_frame(src: bytes, bpdu: ConfigBpdu) -> bytes:
    """The frame ``br_send_config_bpdu`` sends from the port whose MAC is ``src`` (padded to 60 bytes)."""
    flags = (FLAG_TC if bpdu.topology_change else 0) | (FLAG_TCA if bpdu.topology_change_ack else 0)
    body = (bytes((0, 0, 0, TYPE_CONFIG, flags)) + bpdu.root + bpdu.root_path_cost.to_bytes(4, "big")
            + bpdu.bridge_id + bpdu.port_id.to_bytes(2, "big")
            + b"".join(ticks(t).to_bytes(2, "big") for t in (bpdu.message_age_ns, bpdu.max_age_ns,
                                                              bpdu.hello_time_ns, bpdu.forward_delay_ns)))
    return _frame(src, body)


def tcn_frame(src: bytes) -> bytes:
    """The frame ``br_send_tcn_bpdu`` sends (padded to 60 bytes)."""
    return _frame(src, bytes((0, 0, 0, TYPE_TCN)))


def is_bpdu_address(frame: bytes) -> bool:
    return frame[0:6] == STP_GROUP


def parse(frame: bytes) -> Bpdu | None:
    """The BPDU in ``frame`` as the kernel's STP reads it, or None where ``br_stp_rcv`` ignores the frame: not
    802.3 LLC to SAP 0x42, too short, protocol or version not 0 (RSTP, MSTP), or an unknown type."""
    if len(frame) < 14:
        return None
    length = int.from_bytes(frame[12:14], "big")
    if length > 1500:  # an ethertype: not LLC
        return None
    data = frame[14:14 + length]
    if data[0:3] != LLC_BPDU or len(data) < 3 + TCN_LEN:
        return None
    body = data[3:]
    if body[0:3] != b"\x00\x00\x00":
        return None
    if body[3] == TYPE_TCN:
        return TcnBpdu()
    if body[3] != TYPE_CONFIG or len(body) < CONFIG_LEN:
        return None
    flags = body[4]
    return ConfigBpdu(bool(flags & FLAG_TC), bool(flags & FLAG_TCA), bytes(body[5:13]),
                      int.from_bytes(body[13:17], "big"), bytes(body[17:25]), int.from_bytes(body[25:27], "big"),
                      *(from_ticks(int.from_bytes(body[i:i + 2], "big")) for i in (27, 29, 31, 33)))


def bridge_id_str(bridge_id: bytes) -> str:
    """``8000.020000b00100``: how the kernel shows a bridge ID (``br_show_bridge_id``)."""
    return f"{bridge_id[:2].hex()}.{bridge_id[2:].hex()}"
