"""vswitch: a packet-level emulator of virtual NICs, physical adapters and learning switches.

Build a ``Network``, send ``bytes`` frames, run it on the virtual clock, then inspect deliveries, counters, MAC
tables and the trace; captures go to pcap and pcapng files that Wireshark opens. Or load a topology file
(``load_topology``), build it (``build_network``) and play its scenario (``ScenarioRunner(spec, net).run()``).

The names below are the public API, re-exported from the layer that defines each (docs/architecture.md):
``core`` (errors, MAC addresses, reasons), ``l2`` (devices), ``net`` (``Network``), ``guests`` (stacks and
sessions), ``pcap`` (capture reader), ``topology`` (loading and building) and ``scenario`` (running). They load
on first use (PEP 562), so that ``python -m vswitch`` takes over Ctrl-C (``__main__.py``) before the slow imports
rather than after them.
"""

from importlib import import_module

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "build_kind": "buildinfo",
    "AddressError": "core.errors", "CaptureError": "core.errors", "ScenarioError": "core.errors",
    "TopologyError": "core.errors", "VSwitchError": "core.errors",
    "MACAddress": "core.mac", "MACAllocator": "core.mac",
    "DropReason": "core.reasons", "Verdict": "core.reasons",
    "ArpingSession": "guests.sessions", "PingSession": "guests.sessions", "UdpSession": "guests.sessions",
    "GuestStack": "guests.stack", "attach_stack": "guests.stackdriver",
    "MODES": "l2.adapter", "PhysicalAdapter": "l2.adapter",
    "ForwardingTable": "l2.fdb", "TablePolicy": "l2.fdb",
    "Hypervisor": "l2.hypervisor", "NIC": "l2.nic", "VNIC": "l2.nic", "LearningSwitch": "l2.switch",
    "Network": "net.network", "CaptureReader": "pcap.reader",
    "RunResult": "scenario.context", "ScenarioRunner": "scenario.runner",
    "build_network": "topology.build", "load_topology": "topology.loader", "load_topology_text": "topology.loader",
    "TopologySpec": "topology.spec",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later uses are plain lookups
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; type checkers take it as True
if TYPE_CHECKING:
    from .buildinfo import build_kind
    from .core.errors import AddressError, CaptureError, ScenarioError, TopologyError, VSwitchError
    from .core.mac import MACAddress, MACAllocator
    from .core.reasons import DropReason, Verdict
    from .guests.sessions import ArpingSession, PingSession, UdpSession
    from .guests.stack import GuestStack
    from .guests.stackdriver import attach_stack
    from .l2.adapter import MODES, PhysicalAdapter
    from .l2.fdb import ForwardingTable, TablePolicy
    from .l2.hypervisor import Hypervisor
    from .l2.nic import NIC, VNIC
    from .l2.switch import LearningSwitch
    from .net.network import Network
    from .pcap.reader import CaptureReader
    from .scenario.context import RunResult
    from .scenario.runner import ScenarioRunner
    from .topology.build import build_network
    from .topology.loader import load_topology, load_topology_text
    from .topology.spec import TopologySpec
