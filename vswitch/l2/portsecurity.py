"""Port security: a limit on the MACs a switch port may learn, with a violation action.

As Cisco's ``switchport port-security maximum N`` / ``violation restrict|shutdown`` (the Linux bridge has only a
bridge-wide ``fdb_max_learned``): a frame whose source (in its VLAN) is not yet learned on the port, arriving when
the port already holds ``max_macs`` live learned entries, is a violation. ``drop`` drops that frame
(``PORT_SECURITY``) and counts it; the port keeps working for the MACs it knows. ``shutdown`` also shuts the port
down (err-disabled): what it learned is forgotten, nothing is sent out of it, and every later frame arriving on
it is dropped (``PORT_SHUT_DOWN``) until its cable is brought down and up again (a ``link`` action: the
``shutdown`` / ``no shutdown`` that clears an err-disabled port).
"""

from __future__ import annotations

from ..core.errors import TopologyError
from ..core.reasons import DropReason
from .fdb import ForwardingTable
from .port import Port

VIOLATIONS = ("drop", "shutdown")


class PortSecurity:
    """The limit and violation action of one port, and what happened: violations and when it was shut down."""

    __slots__ = ("max_macs", "violation", "violations", "shut_down_ns")

    def __init__(self, max_macs: int, violation: str = "drop") -> None:
        if isinstance(max_macs, bool) or not isinstance(max_macs, int) or max_macs < 0:
            raise TopologyError(f"max_macs must be an integer >= 0, got {max_macs!r}")
        if violation not in VIOLATIONS:
            raise TopologyError(f"violation {violation!r}: choose drop or shutdown")
        self.max_macs = max_macs
        self.violation = violation
        self.violations = 0
        self.shut_down_ns: int | None = None

    def check(self, port: Port, table: ForwardingTable, vlan: int, src: bytes, now: int) -> DropReason | None:
        """None if ``src`` may be learned on switch port ``port``; otherwise the drop, after applying the violation
        action (``shutdown`` asks the port's switch to shut it down)."""
        name = port.name
        if table.learned_on(name) < self.max_macs or table.knows(vlan, src, name, now):
            return None
        table.expire(now)  # aged entries free their places
        if table.learned_on(name) < self.max_macs:
            return None
        self.violations += 1
        if self.violation == "shutdown":
            self.shut_down_ns = now
            port.node.shut_down(name)
        return DropReason.PORT_SECURITY

    def describe(self) -> str:
        return f"max {self.max_macs} MACs, violation {self.violation}"
