"""vswitch: a packet-level emulator of virtual NICs, physical adapters and learning switches.

Build a ``Network``, send ``bytes`` frames, run it on the virtual clock, then inspect deliveries, counters, MAC
tables and the trace; captures go to pcap and pcapng files that Wireshark opens.
"""

from .adapter import MODES, PhysicalAdapter
from .buildinfo import build_kind
from .errors import ScenarioError, TopologyError, VSwitchError
from .fdb import ForwardingTable, TablePolicy
from .hypervisor import Hypervisor
from .mac import MACAddress, MACAllocator
from .network import Network
from .nic import NIC, VNIC
from .reasons import DropReason, Verdict
from .switch import LearningSwitch

__version__ = "0.1.0"

__all__ = [
    "DropReason", "ForwardingTable", "Hypervisor", "LearningSwitch", "MACAddress", "MACAllocator", "MODES",
    "NIC", "Network", "PhysicalAdapter", "ScenarioError", "TablePolicy", "TopologyError", "VNIC", "VSwitchError",
    "Verdict", "build_kind",
]
