"""vswitch: a packet-level emulator of virtual NICs, physical adapters and learning switches.

Build a ``Network``, send ``bytes`` frames, run it on the virtual clock, then inspect deliveries, counters, MAC
tables and the trace; captures go to pcap and pcapng files that Wireshark opens.

The names below load on first use (PEP 562), so that ``python -m vswitch`` takes over Ctrl-C (``__main__.py``)
before the slow imports rather than after them.
"""

from importlib import import_module

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "MODES": "adapter", "PhysicalAdapter": "adapter", "build_kind": "buildinfo", "ScenarioError": "errors",
    "TopologyError": "errors", "VSwitchError": "errors", "ForwardingTable": "fdb", "TablePolicy": "fdb",
    "Hypervisor": "hypervisor", "MACAddress": "mac", "MACAllocator": "mac", "Network": "network", "NIC": "nic",
    "VNIC": "nic", "DropReason": "reasons", "Verdict": "reasons", "LearningSwitch": "switch",
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
