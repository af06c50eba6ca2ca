"""Assertions on a network or a run that read like the scenario and fail with a readable diff.

``assert_delivered(net, frame_id, ["vm2"])``: the frame reached exactly those interfaces; ``assert_dropped(net,
frame_id, "same_port", at="sw1.p2")``: a copy was dropped for that reason; ``assert_passed(result)``: every
expectation of a topology's run held. Each raises ``AssertionError`` whose message says what was expected, what
happened and the frame's hops (``net.trace.explain``), so a failing test explains itself without a debugger.
Names are resolved as ``net.port`` resolves them (``vm2``, ``h1``, ``h1.eth0``, ``sw1.p2``). They need the
hops a recording network keeps (``Network(record=True)``, the default).
"""

from __future__ import annotations

from typing import Iterable

from ..core.errors import ScenarioError
from ..core.reasons import DropReason
from ..net.network import Network
from ..scenario.context import RunResult


def assert_delivered(net: Network, frame_id: int, to: Iterable[str], *, only: bool = True) -> None:
    """Frame ``frame_id`` was delivered to each interface of ``to`` and, with ``only`` (the default), to no
    other."""
    __tracebackhide__ = True  # pytest: the failure points at the test's line
    expected = sorted({net.port(name).full_name for name in _names(to, "to")})
    got = sorted(set(_hops(net, frame_id, "assert_delivered").delivered_to(frame_id)))
    missing = [name for name in expected if name not in got]
    extra = [name for name in got if name not in expected] if only else []
    if missing or extra:
        raise AssertionError(
            f"frame {frame_id} was delivered to {_listed(got)}, expected {'exactly ' if only else ''}"
            f"{_listed(expected)}\n  missing: {_listed(missing, '-')}\n  extra:   {_listed(extra, '-')}\n"
            f"{_explained(net, frame_id)}")


def assert_dropped(net: Network, frame_id: int, reason: DropReason | str, *, at: str | None = None) -> None:
    """A copy of frame ``frame_id`` was dropped for ``reason`` (a ``DropReason`` or its name, ``"same_port"``),
    at the port ``at`` if given."""
    __tracebackhide__ = True
    wanted = _reason(reason)
    port = None if at is None else net.port(at).full_name
    drops = _hops(net, frame_id, "assert_dropped").drops(frame_id)
    if not any(why is wanted and (port is None or where == port) for where, why in drops):
        seen = ", ".join(f"{why.name.lower()} at {where}" for where, why in drops) or "no drop"
        raise AssertionError(f"frame {frame_id}: expected a copy dropped for {wanted.name.lower()}"
                             f"{f' at {port}' if port else ''}; got {seen}\n{_explained(net, frame_id)}")


def assert_passed(result: RunResult) -> None:
    """Every expectation of a topology's run held; else one ``FAILED`` line each, as ``vswitch run`` prints."""
    __tracebackhide__ = True
    if not isinstance(result, RunResult):
        raise ScenarioError(f"assert_passed takes the RunResult of a run, not {type(result).__name__}")
    failed = [f"FAILED {c.where}: expected {c.description}; got {c.actual}" for c in result.checks if not c.passed]
    if failed:
        raise AssertionError(f"{len(failed)} of {len(result.checks)} expectations failed:\n" + "\n".join(failed))


def _hops(net: Network, frame_id: int, what: str):
    """``net.trace``, checked: it records, and the frame has ended."""
    if not isinstance(net, Network):
        raise ScenarioError(f"{what}: net must be a Network, not {type(net).__name__}")
    if isinstance(frame_id, bool) or not isinstance(frame_id, int):
        raise ScenarioError(f"{what}: frame_id must be an int (what net.send returned), not "
                            f"{type(frame_id).__name__}")
    if net.trace is None or not net.trace.everything:
        raise ScenarioError(f"{what} needs the hops a recording network keeps: build it with Network(record=True) "
                            "(the default) or build_network(spec, record=True)")
    if frame_id in net.trace.open:
        raise AssertionError(f"frame {frame_id} is still in flight at {net.now} ns: run the network first "
                             "(net.run())")
    return net.trace


def _names(names: Iterable[str], what: str) -> list[str]:
    if isinstance(names, str):
        return [names]
    listed = list(names)
    if not all(isinstance(name, str) for name in listed):
        raise ScenarioError(f"{what}: interface names as str, not {listed!r}")
    return listed


def _reason(reason: DropReason | str) -> DropReason:
    if isinstance(reason, DropReason):
        return reason
    by_name = {r.name.lower(): r for r in DropReason}
    if not isinstance(reason, str) or reason.lower() not in by_name:
        raise ScenarioError(f"unknown drop reason {reason!r}: one of {', '.join(by_name)}")
    return by_name[reason.lower()]


def _listed(names: list[str], empty: str = "nobody") -> str:
    return ", ".join(names) or empty


def _explained(net: Network, frame_id: int) -> str:
    hops = net.trace.explain(frame_id) if net.trace is not None else ""
    return f"frame {frame_id}'s hops:\n" + "\n".join(f"  {line}" for line in hops.splitlines())
