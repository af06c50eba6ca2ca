"""Spanning tree settings and per-port variables: the kernel's port states, defaults and ranges
(``br_private_stp.h``, ``br_device.c``, ``br_if.c``), and ``StpPort`` (``struct net_bridge_port``'s STP part)."""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from .bpdu import JIFFY_NS

# Port states, as include/uapi/linux/if_bridge.h numbers them.
DISABLED: Final = 0
LISTENING: Final = 1
LEARNING: Final = 2
FORWARDING: Final = 3
BLOCKING: Final = 4
STATE_NAMES: Final = ("disabled", "listening", "learning", "forwarding", "blocking")

SECOND: Final = 1_000_000_000
DEFAULT_PRIORITY: Final = 0x8000
DEFAULT_HELLO_NS: Final = 2 * SECOND
DEFAULT_MAX_AGE_NS: Final = 20 * SECOND
DEFAULT_FORWARD_DELAY_NS: Final = 15 * SECOND
#: (minimum, maximum) as br_private_stp.h has them (BR_MIN_HELLO_TIME...), and for priorities and costs.
HELLO_RANGE: Final = (1 * SECOND, 10 * SECOND)
MAX_AGE_RANGE: Final = (6 * SECOND, 40 * SECOND)
FORWARD_DELAY_RANGE: Final = (2 * SECOND, 30 * SECOND)
PRIORITY_RANGE: Final = (0, 65535)
PORT_BITS: Final = 10  # BR_PORT_BITS: a port ID is (priority << 10) | port number
PORT_PRIORITY_RANGE: Final = (0, (1 << 16 >> PORT_BITS) - 1)  # 0-63
DEFAULT_PORT_PRIORITY: Final = 0x20
PATH_COST_RANGE: Final = (1, 65535)
HOLD_NS: Final = 1 * SECOND  # BR_HOLD_TIME
MESSAGE_AGE_INCR_NS: Final = (250 // 256 + 1) * JIFFY_NS  # (HZ / 256) + 1 jiffies


def port_cost(bandwidth_bps: int | None) -> int:
    """The kernel's default path cost for a port of this speed (``br_if.c`` ``port_cost``); a link without a
    bandwidth is taken as a veth, which reports 10 Gb/s."""
    mbps = 10_000 if bandwidth_bps is None else bandwidth_bps // 1_000_000
    if mbps > 10_000:
        return 1
    for speed, cost in ((10_000, 2), (5_000, 3), (2_500, 4), (1_000, 4), (100, 19), (10, 100)):
        if mbps == speed:
            return cost
    return 100


class StpEvent(NamedTuple):
    """What the bridge would log (``br_log_state``, ``br_info``...), and when."""

    time_ns: int
    switch: str
    text: str


class StpPort:
    """One port's STP variables (``struct net_bridge_port``) and its three timers (deadlines, None: stopped)."""

    def __init__(self, port: Any, port_no: int, mac: bytes, priority: int, path_cost: int) -> None:
        self.port = port  # the SwitchPort: its ``state`` is what forwarding reads
        self.port_no = port_no
        self.mac = mac  # the source address of its BPDUs
        self.priority = priority
        self.path_cost = path_cost
        self.port_id = (priority << PORT_BITS) | port_no
        self.designated_root = b""
        self.designated_cost = 0
        self.designated_bridge = b""
        self.designated_port = 0
        self.designated_age = 0
        self.topology_change_ack = False
        self.config_pending = False
        self.message_age_timer: int | None = None
        self.forward_delay_timer: int | None = None
        self.hold_timer: int | None = None

    @property
    def state(self) -> int:
        return int(self.port.state)

    @property
    def name(self) -> str:
        return str(self.port.name)
