"""kernel-check's duplicate address detection: who received each interface's DAD probes, kernel and vswitch.

The lab turns on the kernel's own DAD for interfaces whose file keeps it (``dad_transmits`` above 0) once the lab
is built (``KernelLab.start_dad``), and collects the copies its sockets took. A DAD probe is a neighbour
solicitation from ``::`` for a tentative address to its solicited-node group. The kernel's probes cannot be
matched one to one with vswitch's by content or time: Linux draws a nonce (enhanced DAD) and a start delay below
``rtr_solicit_delay`` at random, so its bytes and moments differ from vswitch's. They are matched by what does not
vary, the sender's MAC and the target address, and the receivers of the first ``dad_transmits`` probes are summed
on each side: the probes of one address are alike, so each receiver counts once per probe. Only the DAD at the
start is compared (vswitch's first probe at time 0); DAD after a link comes back or a VM is plugged in during the
run is replayed and compared like any frame.
"""

from __future__ import annotations

from collections import Counter
from ipaddress import IPv6Address
from typing import Iterable, NamedTuple

from ..net.network import Network
from .frameio import untagged
from .record import Step, sent_frames
from .scope import hops

_UNSPECIFIED = bytes(16)


class DadProbes(NamedTuple):
    """The DAD probes of one address: sender interface, target, receivers (interface -> copies), probes seen."""

    sender: str
    target: str
    receivers: Counter[str]
    probes: int


def dad_target(frame: bytes) -> bytes | None:
    """The target address of ``frame`` if it is a DAD probe (an ICMPv6 neighbour solicitation from ``::``)."""
    frame = untagged(frame)
    if len(frame) < 78 or frame[12:14] != b"\x86\xdd" or frame[20] != 58 or frame[22:38] != _UNSPECIFIED:
        return None
    return frame[62:78] if frame[54] == 135 else None


def vswitch_probes(steps: Iterable[Step], net: Network) -> dict[tuple[bytes, bytes], DadProbes]:
    """vswitch's DAD at the start, by (sender MAC, target): its first ``dad_transmits`` probes, the first sent at
    time 0, with the interfaces each was delivered to."""
    found: dict[tuple[bytes, bytes], DadProbes] = {}
    started: set[tuple[bytes, bytes]] = set()
    for frame_id, step in sent_frames(steps):
        target = dad_target(step.frame)
        if target is None:
            continue
        key = (untagged(step.frame)[6:12], target)
        stack = getattr(getattr(net.nic(step.sender).stack, "guest", None), "ipv6", None)
        if key not in started:
            started.add(key)
            if step.time_ns == 0 and stack is not None:
                found[key] = DadProbes(step.sender, str(IPv6Address(target)), Counter(), 0)
        probes = found.get(key)
        if probes is not None and stack is not None and probes.probes < stack.dad_transmits:
            probes.receivers.update(hops(net).delivered_to(frame_id))
            found[key] = probes._replace(probes=probes.probes + 1)
    return found


def kernel_probes(copies: Iterable[tuple[str, str, str, bytes, float]], interface_of: dict[str, str],
                  promiscuous: frozenset[str], sender_of: dict[bytes, str]
                  ) -> tuple[dict[tuple[bytes, bytes], DadProbes], list[tuple[str, str, bytes]]]:
    """The kernel's DAD probes among the ``copies`` the lab's sockets took (``KernelLab.start_dad``), by
    (sender MAC, target), with the interfaces whose stack took each copy (as for replayed frames: a copy to
    another host counts only at a promiscuous endpoint); and every other copy, as the lab's stray ones are kept
    (endpoint, pkttype, frame)."""
    found: dict[tuple[bytes, bytes], DadProbes] = {}
    sent: Counter[tuple[bytes, bytes]] = Counter()
    rest = []
    for endpoint, view, kind, frame, _at in copies:
        target = dad_target(frame)
        if target is None:
            rest.append((endpoint, kind, frame))
            continue
        key = (untagged(frame)[6:12], target)
        probes = found.setdefault(key, DadProbes(sender_of.get(key[0], key[0].hex(":")), str(IPv6Address(target)),
                                                 Counter(), 0))
        if view == "transmitted":
            sent[key] += 1  # the sender's own socket sees each probe leave
        elif view == "received" and (kind != "otherhost" or endpoint in promiscuous):
            probes.receivers[interface_of[endpoint]] += 1
    return {key: p._replace(probes=sent[key]) for key, p in found.items()}, rest


class DadRow(NamedTuple):
    """One address's DAD, compared: receivers in each, the kernel receivers left out as documented (interface ->
    NOTES key of ``check.py``), and why it is not compared ("" when it is)."""

    label: str
    sender: str
    kernel: dict[str, int]
    vswitch: dict[str, int]
    known: dict[str, str]
    unchecked: str = ""


def compare_probes(kernel: dict[tuple[bytes, bytes], DadProbes], ours: dict[tuple[bytes, bytes], DadProbes],
                   filter_of: dict[str, str]) -> list[DadRow]:
    """A row per address either side probed at the start, by sender then target. A kernel receiver that
    vswitch's filter kept out is a known difference where that receiver's device does not filter exactly
    (``filter_of``: interface -> ``unfiltered`` for a veth or bridge, ``hash`` for a macvlan, absent for an
    interface whose device joined the probe's group). So is a receiver only vswitch has whose own address, in DAD
    too, is in the probe's solicited-node group (``joining``): the lab turns interfaces on one by one, each joins
    its groups as its DAD begins, and a probe Linux sends early (its delay is random) reaches it or not."""
    own_groups: dict[str, set[bytes]] = {}  # interface -> the solicited-node groups of its own probed addresses
    for probe in ours.values():
        own_groups.setdefault(probe.sender, set()).add(_group(probe.target))
    rows = []
    for key in sorted(set(kernel) | set(ours), key=lambda k: (k[0], k[1])):
        k, v = kernel.get(key), ours.get(key)
        either = v or kernel[key]  # the key is on one side at least
        sender, label = either.sender, f"DAD {either.target}"
        got, want = dict(k.receivers) if k else {}, dict(v.receivers) if v else {}
        if v is None:
            rows.append(DadRow(label, sender, got, want, {}, "vswitch probed it later (a link came up or a VM was "
                                                             "plugged in during the run): replayed as a frame"))
            continue
        known = {i: filter_of[i] for i, n in got.items() if n > want.get(i, 0) and i in filter_of}
        known.update((i, "joining") for i, n in want.items()  # its join raced this probe in the lab
                     if n > got.get(i, 0) and _group(either.target) in own_groups.get(i, ()))
        rows.append(DadRow(label, sender, got, want, known))
    return rows


def _group(address: str) -> bytes:
    """What names an address's solicited-node group (ff02::1:ffXX:XXXX): its last 24 bits."""
    return IPv6Address(address).packed[-3:]
