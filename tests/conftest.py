"""Shared helpers: frames built once with Scapy (every field explicit), small standard networks."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

import vswitch
from vswitch import Network, build_kind
from vswitch.buildinfo import stale_warning

SOURCE = Path(__file__).resolve().parents[1] / "vswitch"
UNDER_TEST = Path(vswitch.__file__).resolve().parent


def pytest_report_header(config: pytest.Config) -> str:
    return f"vswitch under test: {UNDER_TEST}, {build_kind()}"


def pytest_configure(config: pytest.Config) -> None:
    """``pytest`` tests the installed package (compiled where it could be): it must match the source tree."""
    if UNDER_TEST == SOURCE:  # ``python -m pytest`` from the repository, or an editable install: the source tree
        warning = stale_warning()
        if warning:
            pytest.exit(warning, returncode=2)
        return
    sources = (p.relative_to(SOURCE) for p in SOURCE.rglob("*.py"))
    stale = sorted(str(p) for p in sources
                   if not (UNDER_TEST / p).is_file() or (UNDER_TEST / p).read_bytes() != (SOURCE / p).read_bytes())
    if stale:
        pytest.exit(f"the installed vswitch ({UNDER_TEST}) differs from the source tree in {', '.join(stale[:5])}"
                    f"{' ...' if len(stale) > 5 else ''}: run pip install '.[test]' again (or python -m pytest to "
                    "test the source tree)", returncode=2)

BROADCAST = "ff:ff:ff:ff:ff:ff"
GROUP = "01:00:5e:01:02:03"  # not 01:00:5e:00:00:01: every Linux interface is in all-hosts


def udp_frame(src: str, dst: str, payload: bytes = b"hello") -> bytes:
    """An Ether/IPv4/UDP frame with every address given (Scapy never consults the host)."""
    return bytes(Ether(src=src, dst=dst, type=0x0800)
                 / IP(src="192.0.2.1", dst="192.0.2.2", ttl=64) / UDP(sport=1234, dport=5678) / payload)


def table_rows(text: str, header: str) -> list[list[str]]:
    """Markdown: the cells of each row of every table in ``text`` whose first header cell is ``header``."""
    rows, in_table = [], False
    for line in text.splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if not in_table:
            in_table = cells[0] == header
        elif not set(line) <= set("|-: "):
            rows.append(cells)
    return rows


def lab(mode: str = "bridge", hairpin: bool = False, latency_ns: int = 1000, backend: str = "adapter") -> Network:
    """The standard lab: hypervisor hv1 (vm1, vm2) and physical host h1 on switch sw1.

    MACs: h1 02:00:00:00:00:01, hv1 (adapter/host) 02:00:00:00:00:aa, vm1 52:54:00:00:00:01,
    vm2 52:54:00:00:00:02 (passthru labs have vm1 only). sw1.p1 is h1's port, sw1.p2 the hypervisor's.
    """
    net = Network()
    net.add_switch("sw1")
    net.add_host("h1", "02:00:00:00:00:01")
    net.add_hypervisor("hv1", "02:00:00:00:00:aa", mode=mode, backend=backend)
    net.add_vm("hv1", "vm1", "52:54:00:00:00:01")
    if mode != "passthru":
        net.add_vm("hv1", "vm2", "52:54:00:00:00:02")
    net.connect("h1", "sw1", latency_ns=latency_ns)
    net.connect("hv1", "sw1", latency_ns=latency_ns)
    net.switch("sw1").set_flag("p2", "hairpin", hairpin)
    return net


def receivers(net: Network, frame_id: int) -> list[str]:
    """Sorted names of the interfaces whose stack accepted a copy of the frame."""
    return sorted(net.trace.delivered_to(frame_id))


@pytest.fixture
def std_lab():
    return lab


def require_netns(prefix: str) -> None:
    """Skip the calling test module when this machine cannot build a kernel lab (no root, no netns)."""
    from vswitch.kernel.lab import KernelLab
    from vswitch.kernel.netns import KernelLabError

    try:
        with KernelLab(prefix):
            pass
    except (KernelLabError, OSError) as exc:
        pytest.skip(f"cannot create network namespaces here: {exc}")
