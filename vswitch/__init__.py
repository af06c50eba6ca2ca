"""vswitch: a packet-level emulator of virtual NICs, physical adapters and learning switches.

Build a ``Network``, send ``bytes`` frames, run it on the virtual clock, then inspect deliveries, counters, MAC
tables and the trace; captures go to pcap and pcapng files that Wireshark opens. Or load a topology file
(``load_topology``), build it (``build_network``) and play its scenario (``ScenarioRunner(spec, net).run()``).

The names below are the public API, re-exported from the layer that defines each (docs/architecture.md):
``core`` (errors, MAC addresses, reasons), ``l2`` (devices), ``net`` (``Network``), ``guests`` (stacks and
sessions), ``pcap`` (capture reader), ``topology`` (loading and building) and ``scenario`` (running).
"""

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

__version__ = "0.1.0"

__all__ = [
    "AddressError", "ArpingSession", "CaptureError", "CaptureReader", "DropReason", "ForwardingTable", "GuestStack", "Hypervisor", "LearningSwitch",
    "MACAddress", "MACAllocator", "MODES", "NIC", "Network", "PhysicalAdapter", "PingSession", "RunResult",
    "ScenarioError", "ScenarioRunner", "TablePolicy", "TopologyError", "TopologySpec", "UdpSession", "VNIC",
    "VSwitchError", "Verdict", "attach_stack", "build_kind", "build_network", "load_topology", "load_topology_text",
]
