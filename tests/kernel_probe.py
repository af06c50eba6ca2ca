"""Measure the Linux macvlan x bridge-hairpin truth table with ``vswitch.kernel.lab`` and print it (needs root).

Not a pytest module: run ``sudo python3 tests/kernel_probe.py [--settle 0.02] [--modes bridge,vepa]``.
For each macvlan mode and hairpin setting a fresh lab is built: hypervisor ``hv1`` (adapter veth on the
bridge, its own stack is endpoint ``hv1``) with vNICs ``vm1``/``vm2`` (passthru: ``vm1`` only) and host ``h1``.
Every unicast to a known destination is preceded by a ``learn`` broadcast from that destination.
A vNIC that gets a multicast group it has not joined is marked as a hash-filter leak (macvlan's filter is
a 256-bucket hash salted per device, so leaks vary from run to run; veth endpoints do not filter at all).
Receivers are ``endpoint x copies [pkttypes]`` as delivered to each stack (``hv1`` = the hypervisor's own stack
on the adapter); ``otherhost`` copies reach the socket but the IP stack would drop them. The last column is an
ETH_P_ALL tap on the adapter, which sees frames before macvlan sorts them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vswitch.kernel.frameio import Reception, ether_frame  # noqa: E402
from vswitch.kernel.lab import KernelLab  # noqa: E402

MACS = {"hv1": "02:00:00:00:00:01", "h1": "02:00:00:00:01:01", "vm1": "52:54:00:00:00:01",
        "vm2": "52:54:00:00:00:02"}
BCAST = "ff:ff:ff:ff:ff:ff"
UNKNOWN = "02:00:00:00:99:99"
ALL_HOSTS = "01:00:5e:00:00:01"  # joined implicitly by every up device (IPv4 all-hosts)
GROUP = "01:00:5e:01:02:03"  # joined by vm1 only (ip maddr add)
GROUP_NOBODY = "01:00:5e:7f:00:99"

#: (label, sender, destination, learn-first: whose broadcast teaches the bridge the destination)
FRAMES: list[tuple[str, str, str, str | None]] = [
    ("h1 broadcast", "h1", BCAST, None),
    ("vm1 broadcast", "vm1", BCAST, None),
    ("hv1 broadcast (adapter host)", "hv1", BCAST, None),
    ("vm1 -> vm2", "vm1", "vm2", "vm2"),
    ("vm1 -> hv1 (host stack)", "vm1", "hv1", "hv1"),
    ("vm1 -> h1", "vm1", "h1", "h1"),
    ("h1 -> vm1", "h1", "vm1", "vm1"),
    ("hv1 -> vm1 (host stack)", "hv1", "vm1", "vm1"),
    ("h1 -> unknown unicast", "h1", UNKNOWN, None),
    ("vm1 -> unknown unicast", "vm1", UNKNOWN, None),
    ("vm1 multicast 01:00:5e:00:00:01", "vm1", ALL_HOSTS, None),
    ("h1 multicast group joined by vm1", "h1", GROUP, None),
    ("h1 multicast group nobody joined", "h1", GROUP_NOBODY, None),
]


def describe(receptions: list[Reception]) -> str:
    """``hv1x1[otherhost] vm2x1[host]``: copies and pkttypes per endpoint."""
    kinds: dict[str, Counter[str]] = {}
    for r in receptions:
        kinds.setdefault(r.endpoint, Counter())[r.pkttype] += 1
    return " ".join(f"{ep}x{sum(c.values())}[{','.join(sorted(c))}]" for ep, c in sorted(kinds.items())) or "-"


def run_case(mode: str, hairpin: bool, settle: float, delays: list[float], elapsed: list[float]) -> list[list[str]]:
    vms = {"vm1": MACS["vm1"]} if mode == "passthru" else {"vm1": MACS["vm1"], "vm2": MACS["vm2"]}
    rows: list[list[str]] = []
    with KernelLab("vskp", settle_s=settle) as lab:
        lab.add_host("h1", MACS["h1"])
        lab.add_hypervisor("hv1", MACS["hv1"], mode, vms, hairpin=hairpin)
        lab.join_multicast("vm1", GROUP)
        macs = {name: ep.mac for name, ep in lab.endpoints.items()}
        seq = 0

        def send(label: str, src: str, dst: str) -> None:
            nonlocal seq
            seq += 1
            frame = ether_frame(macs.get(dst, dst), macs[src], payload=f"{seq}:{label}".encode())
            res = lab.inject(src, frame)
            delays.extend(r.delay_s for r in res.received)
            elapsed.append(res.elapsed_s)
            tap = describe(res.tapped) + (" +tx" if res.transmitted else "")
            vnic_leaks = [ep for ep in res.unjoined if lab.endpoints[ep].kind == "vnic"]
            leak = f" (hash-filter leak: {','.join(vnic_leaks)})" if vnic_leaks else ""
            rows.append([mode, "on" if hairpin else "off", label, describe(res.received) + leak, tap])

        for label, src, dst, learn in FRAMES:
            if src not in lab.endpoints or dst in MACS and dst not in lab.endpoints:
                rows.append([mode, "on" if hairpin else "off", label, "n/a (no vm2 in passthru)", ""])
                continue
            if learn:
                send(f"  learn: {learn} broadcast", learn, BCAST)
            send(label, src, dst)
        fdb = ", ".join(f"{e.mac}@{e.node}" for e in lab.fdb())
        real = ", ".join(f"{n}={m}" for n, m in sorted(macs.items()))
        rows.append([mode, "on" if hairpin else "off", "(bridge FDB after run)", fdb, ""])
        rows.append([mode, "on" if hairpin else "off", "(MACs as set by the kernel)", real, ""])
        if lab.stray:
            rows.append([mode, "on" if hairpin else "off", "(stray frames)", str(len(lab.stray)), ""])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle", type=float, default=0.02, help="quiet period per frame, seconds")
    parser.add_argument("--modes", default="private,vepa,bridge,passthru")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("kernel_probe: needs root (network namespaces)", file=sys.stderr)
        return 2
    delays: list[float] = []
    elapsed: list[float] = []
    rows = [["mode", "hairpin", "frame", "receivers (stacks)", "hv1 adapter tap (+tx: vNIC frame sent out)"]]
    for mode in args.modes.split(","):
        for hairpin in (False, True):
            rows += run_case(mode, hairpin, args.settle, delays, elapsed)
    widths = [max(len(r[i]) for r in rows if not r[2].startswith("(")) for i in range(4)]
    for i, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths + [0])).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths + [len(row[4])]))
    print(f"\n{len(elapsed)} frames; per injection mean {statistics.mean(elapsed) * 1e3:.1f} ms, "
          f"max {max(elapsed) * 1e3:.1f} ms (settle {args.settle * 1e3:.0f} ms); copy delay after send: "
          f"median {statistics.median(delays) * 1e6:.0f} us, max {max(delays) * 1e6:.0f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
