"""The ``vswitch kernel-check`` and ``kernel-cleanup`` commands: arguments, where the kernel side runs (here or in
a VM, ``vm.py``), and which comparison a file gets (frames and tables, ``check.py``; spanning trees, ``stpcheck.py``).
"""

from __future__ import annotations

import argparse
import signal
import threading
from contextlib import contextmanager
from typing import Iterator

from ..core.units import parse_duration
from ..topology.build import build_network
from ..topology.loader import load_topology
from ..topology.spec import TopologySpec
from ..topology.yamlsource import check_file
from . import scope, vm
from .check import PREFIX, PREFIXES, check_topology, render, without_impairments
from .compare import KernelCheckError, require_kernel_lab
from .lab import cleanup_leftovers
from .stpcheck import check_stp, has_stp, render_stp


def seconds_argument(value: str) -> float:
    """A command-line duration on the wall clock (``20ms``), in seconds; a bad one is a usage error."""
    try:
        return parse_duration(value) / 1e9
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="topology file (YAML)")
    parser.add_argument("--settle", type=seconds_argument, default=0.02, metavar="TIME",
                        help="quiet time that ends the collection of one frame's copies (default 20ms)")
    parser.add_argument("--max-wait", type=seconds_argument, default=5.0, metavar="TIME",
                        help="when entries can age out during the scenario, replay it in real time, compressed to "
                             "at most this long, ageing times alike (default 5s)")
    parser.add_argument("--max-frames", type=int, default=2000, metavar="N",
                        help="replay at most N frames in the kernel, about 20 ms each (default 2000)")
    parser.add_argument("--prefix", default=PREFIX, help=f"namespace name prefix (default {PREFIX})")
    parser.add_argument("--vm", choices=("auto", "always", "never"), default="auto",
                        help="where the kernel side runs: auto (default): in a QEMU (TCG) virtual machine with a "
                             "Debian kernel from /boot when this machine's kernel lacks a VLAN feature the file needs "
                             "(802.1Q devices, bridge VLAN filtering), else here; always; never (then such a file is "
                             "refused with the kernel's reason)")


@contextmanager
def _terminations_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP raise KeyboardInterrupt, so the lab is torn down as on Ctrl-C."""
    main = threading.current_thread() is threading.main_thread()
    old = {sig: signal.signal(sig, signal.default_int_handler) for sig in (signal.SIGTERM, signal.SIGHUP)} \
        if main else {}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def run(args: argparse.Namespace) -> int:
    check_file(args.file)  # a FIFO would make loading wait forever
    spec = load_topology(args.file)  # a mistake in the file first: it is the user's to fix, with or without root
    require_kernel_lab()
    why = _vm_reason(spec, args.vm)
    if why:
        with _terminations_interrupt():
            return vm.check_in_vm(args, why)
    if has_stp(spec):  # spanning tree: the trees compared in real time (stpcheck.py)
        with _terminations_interrupt():
            stp = check_stp(spec, prefix=args.prefix)
        print(render_stp(stp))
        return 0 if stp.agrees else 1
    with _terminations_interrupt():
        report = check_topology(spec, prefix=args.prefix, settle_s=args.settle, max_wait_s=args.max_wait,
                                max_frames=args.max_frames)
    print(render(report))
    return 0 if report.agrees else 1


def _vm_reason(spec: TopologySpec, choice: str) -> str:
    """Why the kernel side of ``spec`` runs in a VM ('': here), for ``--vm CHOICE``."""
    if choice != "auto":
        return "as --vm always asks" if choice == "always" else ""
    missing = scope.missing_vlan_features(build_network(without_impairments(spec)))
    if not missing:
        return ""
    problem = vm.unavailable()
    if problem:
        raise KernelCheckError(f"{spec.name}: the kernel cannot express this topology: {missing[0]}; nor can "
                               f"kernel-check run it in a VM here: {problem}")
    return f"because this machine's kernel cannot build it ({missing[0]})"


def add_cleanup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prefix", action="append", metavar="PREFIX",
                        help=f"only this name prefix (repeatable; default: {', '.join(PREFIXES)})")
    parser.add_argument("--force", action="store_true",
                        help="also remove labs of processes still running (a kernel-check in progress breaks)")


def run_cleanup(args: argparse.Namespace) -> int:
    require_kernel_lab()
    removed = [name for prefix in args.prefix or PREFIXES for name in cleanup_leftovers(prefix, force=args.force)]
    print(f"removed {len(removed)}: {', '.join(removed)}" if removed else "nothing to remove")
    return 0
