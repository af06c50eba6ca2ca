"""Spanning tree as the Linux bridge's kernel STP runs it (IEEE 802.1D-1998; ``net/bridge/br_stp*.c``).

``SpanningTree`` is one bridge's STP: its root election, port roles and states, topology change handling and
timers, function for function as ``br_stp.c``, ``br_stp_if.c`` and ``br_stp_timer.c`` (names kept, ``br_``
dropped). It never transmits: BPDUs wait in ``outbox`` and ``wake`` tells the network to send them; its timers
are deadlines on the virtual clock (``next_deadline`` / ``expire``, as DESIGN.md asks), so a run is reproducible.
Port states are the kernel's ``BR_STATE_*`` numbers, kept on each switch port (``SwitchPort.state``), where the
switch's filtering path reads them (``switch.py``).

What the kernel does that is left out: user-space STP (``BR_USER_STP``), BPDU guard and root block flags, and
``round_jiffies`` on the hold timer (here exactly one second: the kernel rounds to a wall-clock second).
"""

from __future__ import annotations

from typing import Any, Callable

from .bpdu import ConfigBpdu, TcnBpdu, bridge_id_str, config_frame, parse, tcn_frame
from .stp_port import (BLOCKING, DEFAULT_FORWARD_DELAY_NS, DEFAULT_HELLO_NS, DEFAULT_MAX_AGE_NS, DEFAULT_PRIORITY,
                       DISABLED, FORWARDING, HOLD_NS, LEARNING, LISTENING, MESSAGE_AGE_INCR_NS, PORT_BITS,
                       STATE_NAMES, StpEvent, StpPort)


def _nothing() -> None:
    pass


class SpanningTree:
    """The kernel STP of one bridge. ``ports`` are ``StpPort``s in port-number order."""

    def __init__(self, name: str, bridge_mac: bytes, ports: list[StpPort], *, priority: int = DEFAULT_PRIORITY,
                 hello_time_ns: int = DEFAULT_HELLO_NS, max_age_ns: int = DEFAULT_MAX_AGE_NS,
                 forward_delay_ns: int = DEFAULT_FORWARD_DELAY_NS, table: Any = None) -> None:
        self.name = name
        self.bridge_id = priority.to_bytes(2, "big") + bridge_mac
        self.ports = ports
        self.by_name = {p.name: p for p in ports}
        self.bridge_max_age = self.max_age = max_age_ns
        self.bridge_hello_time = self.hello_time = hello_time_ns
        self.bridge_forward_delay = self.forward_delay = forward_delay_ns
        self.designated_root = self.bridge_id
        self.root_path_cost = 0
        self.root_port = 0
        self.topology_change = False
        self.topology_change_detected = False
        self.hello_timer: int | None = None
        self.tcn_timer: int | None = None
        self.topology_change_timer: int | None = None
        self.table = table  # the switch's ForwardingTable: its ageing is shortened during a topology change
        self.bridge_ageing_ns: int = table.ageing_ns if table is not None else 0
        self.outbox: list[tuple[Any, bytes]] = []  # (switch port, BPDU frame) to send
        self.log: list[StpEvent] = []
        self.bpdus_sent = 0
        self.tcns_received = 0
        self.wake: Callable[[], None] = _nothing  # the network: something to send, or the timers changed
        self.now = 0

    # -- queries -----------------------------------------------------------------------------------
    def is_root_bridge(self) -> bool:
        return self.designated_root == self.bridge_id

    def is_designated_port(self, p: StpPort) -> bool:
        return p.designated_bridge == self.bridge_id and p.designated_port == p.port_id

    def role(self, p: StpPort) -> str:
        """root, designated, non-designated (blocked by the election) or disabled."""
        if p.state == DISABLED:
            return "disabled"
        if p.port_no == self.root_port:
            return "root"
        return "designated" if self.is_designated_port(p) else "non-designated"

    def root_port_name(self) -> str | None:
        port = self._port(self.root_port)
        return port.name if port is not None else None

    def _port(self, port_no: int) -> StpPort | None:
        for p in self.ports:
            if p.port_no == port_no:
                return p
        return None

    def _say(self, text: str) -> None:
        self.log.append(StpEvent(self.now, self.name, text))

    def _set_state(self, p: StpPort, state: int) -> None:
        p.port.state = state
        self._say(f"port {p.port_no}({p.name}) entered {STATE_NAMES[state]} state")

    # -- starting and link changes (br_stp_if.c) ---------------------------------------------------
    def start(self, now: int) -> None:
        """``br_stp_enable_bridge`` with STP on: hello timer, then each port whose link is up."""
        self.now = now
        for p in self.ports:
            p.port.state = DISABLED
        self.hello_timer = now + self.hello_time
        self.config_bpdu_generation()
        for p in self.ports:
            if p.port.up and p.port.carrier and p.port.peer is not None:
                self.enable_port(p)
        self.wake()

    def carrier_changed(self, name: str, up: bool, now: int) -> None:
        """A port's link went up (``br_stp_enable_port``) or down (``br_stp_disable_port``)."""
        self.now = now
        p = self.by_name.get(name)
        if p is None:
            return
        if up and p.state == DISABLED:
            self.enable_port(p)
        elif not up and p.state != DISABLED:
            self.disable_port(p)
        self.wake()

    def enable_port(self, p: StpPort) -> None:
        self.init_port(p)
        self.port_state_selection()

    def init_port(self, p: StpPort) -> None:
        p.port_id = (p.priority << PORT_BITS) | p.port_no
        self.become_designated_port(p)
        self._set_state(p, BLOCKING)
        p.topology_change_ack = False
        p.config_pending = False

    def disable_port(self, p: StpPort) -> None:
        was_root = self.is_root_bridge()
        self.become_designated_port(p)
        self._set_state(p, DISABLED)
        p.topology_change_ack = False
        p.config_pending = False
        p.message_age_timer = p.forward_delay_timer = p.hold_timer = None
        if self.table is not None:
            self.table.flush_port(p.name)
        self.configuration_update()
        self.port_state_selection()
        if self.is_root_bridge() and not was_root:
            self.become_root_bridge()

    # -- br_stp.c ----------------------------------------------------------------------------------
    def should_become_root_port(self, p: StpPort, root_port: int) -> bool:
        if p.state == DISABLED or self.is_designated_port(p):
            return False
        if self.bridge_id <= p.designated_root:
            return False
        rp = self._port(root_port) if root_port else None
        if rp is None:
            return True
        mine = (p.designated_root, p.designated_cost + p.path_cost, p.designated_bridge, p.designated_port,
                p.port_id)
        theirs = (rp.designated_root, rp.designated_cost + rp.path_cost, rp.designated_bridge, rp.designated_port,
                  rp.port_id)
        return mine < theirs

    def root_selection(self) -> None:
        root_port = 0
        for p in self.ports:
            if self.should_become_root_port(p, root_port):
                root_port = p.port_no
        old_root, old_port = self.designated_root, self.root_port
        self.root_port = root_port
        rp = self._port(root_port) if root_port else None
        if rp is None:
            self.designated_root = self.bridge_id
            self.root_path_cost = 0
        else:
            self.designated_root = rp.designated_root
            self.root_path_cost = rp.designated_cost + rp.path_cost
        if self.designated_root != old_root:
            self._say(f"root bridge {bridge_id_str(self.designated_root)}"
                      + (" (this bridge)" if self.is_root_bridge() else ""))
        if root_port != old_port:
            self._say(f"root port {rp.port_no}({rp.name})" if rp is not None else "no root port")

    def become_root_bridge(self) -> None:
        self.max_age = self.bridge_max_age
        self.hello_time = self.bridge_hello_time
        self.forward_delay = self.bridge_forward_delay
        self.topology_change_detection()
        self.tcn_timer = None
        self.config_bpdu_generation()
        self.hello_timer = self.now + self.hello_time

    def transmit_config(self, p: StpPort) -> None:
        if p.hold_timer is not None:
            p.config_pending = True
            return
        if self.is_root_bridge():
            message_age = 0
        else:
            root = self._port(self.root_port)
            assert root is not None
            message_age = (self.now - root.designated_age) + MESSAGE_AGE_INCR_NS
        if message_age < self.max_age:
            bpdu = ConfigBpdu(self.topology_change, p.topology_change_ack, self.designated_root,
                              self.root_path_cost, self.bridge_id, p.port_id, message_age, self.max_age,
                              self.hello_time, self.forward_delay)
            self.outbox.append((p.port, config_frame(p.mac, bpdu)))
            self.bpdus_sent += 1
            p.topology_change_ack = False
            p.config_pending = False
            p.hold_timer = self.now + HOLD_NS

    def record_config_information(self, p: StpPort, bpdu: ConfigBpdu) -> None:
        p.designated_root = bpdu.root
        p.designated_cost = bpdu.root_path_cost
        p.designated_bridge = bpdu.bridge_id
        p.designated_port = bpdu.port_id
        p.designated_age = self.now - bpdu.message_age_ns
        p.message_age_timer = self.now + (bpdu.max_age_ns - bpdu.message_age_ns)

    def record_config_timeout_values(self, bpdu: ConfigBpdu) -> None:
        self.max_age = bpdu.max_age_ns
        self.hello_time = bpdu.hello_time_ns
        self.forward_delay = bpdu.forward_delay_ns
        self.set_topology_change(bpdu.topology_change)

    def transmit_tcn(self) -> None:
        p = self._port(self.root_port)
        if p is not None:
            self.outbox.append((p.port, tcn_frame(p.mac)))
            self.bpdus_sent += 1

    def should_become_designated_port(self, p: StpPort) -> bool:
        if self.is_designated_port(p) or p.designated_root != self.designated_root:
            return True
        return (self.root_path_cost, self.bridge_id, p.port_id) < (p.designated_cost, p.designated_bridge,
                                                                   p.designated_port)

    def designated_port_selection(self) -> None:
        for p in self.ports:
            if p.state != DISABLED and self.should_become_designated_port(p):
                self.become_designated_port(p)

    def supersedes_port_info(self, p: StpPort, bpdu: ConfigBpdu) -> bool:
        if bpdu.root != p.designated_root:
            return bpdu.root < p.designated_root
        if bpdu.root_path_cost != p.designated_cost:
            return bpdu.root_path_cost < p.designated_cost
        if bpdu.bridge_id != p.designated_bridge:
            return bpdu.bridge_id < p.designated_bridge
        if bpdu.bridge_id != self.bridge_id:
            return True
        return bpdu.port_id <= p.designated_port

    def topology_change_acknowledged(self) -> None:
        self.topology_change_detected = False
        self.tcn_timer = None

    def topology_change_detection(self) -> None:
        is_root = self.is_root_bridge()
        self._say("topology change detected, " + ("propagating" if is_root else "sending tcn bpdu"))
        if is_root:
            self.set_topology_change(True)
            self.topology_change_timer = self.now + self.bridge_forward_delay + self.bridge_max_age
        elif not self.topology_change_detected:
            self.transmit_tcn()
            self.tcn_timer = self.now + self.bridge_hello_time
        self.topology_change_detected = True

    def set_topology_change(self, value: bool) -> None:
        """``__br_set_topology_change``: during a topology change the table ages out after twice the forward
        delay; after it, the bridge's own ageing time again (a table that does not learn, ageing 0, stays so)."""
        if self.topology_change != value and self.table is not None and self.bridge_ageing_ns > 0:
            self.table.ageing_ns = 2 * self.forward_delay if value else self.bridge_ageing_ns
        self.topology_change = value

    def config_bpdu_generation(self) -> None:
        for p in self.ports:
            if p.state != DISABLED and self.is_designated_port(p):
                self.transmit_config(p)

    def configuration_update(self) -> None:
        self.root_selection()
        self.designated_port_selection()

    def become_designated_port(self, p: StpPort) -> None:
        p.designated_root = self.designated_root
        p.designated_cost = self.root_path_cost
        p.designated_bridge = self.bridge_id
        p.designated_port = p.port_id

    def make_blocking(self, p: StpPort) -> None:
        if p.state not in (DISABLED, BLOCKING):
            if p.state in (FORWARDING, LEARNING):
                self.topology_change_detection()
            self._set_state(p, BLOCKING)
            p.forward_delay_timer = None

    def make_forwarding(self, p: StpPort) -> None:
        if p.state != BLOCKING:
            return
        if self.forward_delay == 0:  # a root's BPDU may say so
            self._set_state(p, FORWARDING)
            self.topology_change_detection()
            p.forward_delay_timer = None
            return
        self._set_state(p, LISTENING)
        p.forward_delay_timer = self.now + self.forward_delay

    def port_state_selection(self) -> None:
        for p in self.ports:
            if p.state == DISABLED:
                continue
            if p.port_no == self.root_port:
                p.config_pending = False
                p.topology_change_ack = False
                self.make_forwarding(p)
            elif self.is_designated_port(p):
                p.message_age_timer = None
                self.make_forwarding(p)
            else:
                p.config_pending = False
                p.topology_change_ack = False
                self.make_blocking(p)

    def received_config_bpdu(self, p: StpPort, bpdu: ConfigBpdu) -> None:
        was_root = self.is_root_bridge()
        if self.supersedes_port_info(p, bpdu):
            self.record_config_information(p, bpdu)
            self.configuration_update()
            self.port_state_selection()
            if not self.is_root_bridge() and was_root:
                self.hello_timer = None
                if self.topology_change_detected:
                    self.topology_change_timer = None
                    self.transmit_tcn()
                    self.tcn_timer = self.now + self.bridge_hello_time
            if p.port_no == self.root_port:
                self.record_config_timeout_values(bpdu)
                self.config_bpdu_generation()
                if bpdu.topology_change_ack:
                    self.topology_change_acknowledged()
        elif self.is_designated_port(p):
            self.transmit_config(p)  # br_reply

    def received_tcn_bpdu(self, p: StpPort) -> None:
        if self.is_designated_port(p):
            self.tcns_received += 1
            self._say(f"port {p.port_no}({p.name}) received tcn bpdu")
            self.topology_change_detection()
            p.topology_change_ack = True
            self.transmit_config(p)

    # -- receiving (br_stp_rcv) ------------------------------------------------------------------------
    def receive(self, name: str, frame: bytes, now: int) -> str | None:
        """A frame to the bridge group address arrived at port ``name``; returns None when STP took it, else why
        not: ``ignored`` (not a BPDU the kernel's STP reads, a disabled port) or ``too_old`` (message age beyond
        max age)."""
        self.now = now
        p = self.by_name.get(name)
        if p is None or p.state == DISABLED:
            return "ignored"
        bpdu = parse(frame)
        if bpdu is None:
            return "ignored"
        if isinstance(bpdu, TcnBpdu):
            self.received_tcn_bpdu(p)
        else:
            if bpdu.message_age_ns > bpdu.max_age_ns:
                return "too_old"
            self.received_config_bpdu(p, bpdu)
        self.wake()
        return None

    # -- timers (br_stp_timer.c) -------------------------------------------------------------------------
    def _timers(self) -> list[tuple[int, int, str, StpPort | None]]:
        found: list[tuple[int, int, str, StpPort | None]] = []
        for order, (name, value) in enumerate((("hello", self.hello_timer), ("tcn", self.tcn_timer),
                                               ("topology_change", self.topology_change_timer))):
            if value is not None:
                found.append((value, order, name, None))
        for p in self.ports:
            for order, (name, value) in enumerate((("message_age", p.message_age_timer),
                                                   ("forward_delay", p.forward_delay_timer),
                                                   ("hold", p.hold_timer))):
                if value is not None:
                    found.append((value, 3 + p.port_no * 3 + order, name, p))
        return found

    def next_deadline(self) -> int | None:
        """When the next timer expires (None: none runs)."""
        return min((t[0] for t in self._timers()), default=None)

    def expire(self, now: int) -> None:
        """Run every timer due by ``now``, earliest first (ties: bridge timers, then by port number)."""
        while True:
            due = [t for t in self._timers() if t[0] <= now]
            if not due:
                break
            when, _, name, p = min(due, key=lambda t: (t[0], t[1]))
            self.now = when
            if p is None:
                setattr(self, f"{name}_timer", None)
                getattr(self, f"_{name}_expired")()
            else:
                setattr(p, f"{name}_timer", None)
                getattr(self, f"_{name}_expired")(p)
        self.now = now
        self.wake()

    def _hello_expired(self) -> None:
        self.config_bpdu_generation()
        self.hello_timer = self.now + self.hello_time

    def _tcn_expired(self) -> None:
        self.transmit_tcn()
        self.tcn_timer = self.now + self.bridge_hello_time

    def _topology_change_expired(self) -> None:
        self.topology_change_detected = False
        self.set_topology_change(False)

    def _message_age_expired(self, p: StpPort) -> None:
        if p.state == DISABLED:
            return
        self._say(f"neighbor {bridge_id_str(p.designated_bridge)} lost on port {p.port_no}({p.name})")
        was_root = self.is_root_bridge()
        self.become_designated_port(p)
        self.configuration_update()
        self.port_state_selection()
        if self.is_root_bridge() and not was_root:
            self.become_root_bridge()

    def _forward_delay_expired(self, p: StpPort) -> None:
        if p.state == LISTENING:
            self._set_state(p, LEARNING)
            p.forward_delay_timer = self.now + self.forward_delay
        elif p.state == LEARNING:
            self._set_state(p, FORWARDING)
            if any(q.state != DISABLED and q.designated_bridge == self.bridge_id for q in self.ports):
                self.topology_change_detection()

    def _hold_expired(self, p: StpPort) -> None:
        if p.config_pending:
            self.transmit_config(p)

    def take_outbox(self) -> list[tuple[Any, bytes]]:
        out, self.outbox = self.outbox, []
        return out
