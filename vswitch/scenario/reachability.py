"""All-pairs reachability: the ``pingall`` action (every stack pings every other, like Mininet's ``pingall``) and
the ``reachability`` expectation, with the matrix the report prints.

A pingall starts one ping session per ordered pair, all at once, in member order (``h1 -> vm1``, ``h1 -> vm2``,
...); a pair *reached* when one of its echo requests was answered in time (``ping``'s success). Its sessions are
kept in its ``PingallResult``, not among the run's named sessions: the report shows the matrix instead of a row
per pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.errors import ScenarioError
from ..guests.inet6 import reach6
from ..guests.sessions import PingSession
from ..guests.stackdriver import StackDriver
from ..topology.guest_check import pingall_members, stations
from ..topology.guest_expectations import ReachabilityCheck
from ..topology.guest_reader import PingallAction
from ..topology.spec import Where
from .context import ScenarioContext
from .guest_actions import FIRST_PING_IDENT, driver_of, interface_of, ping_idents_used
from .registry import checks, performs, resolves


@dataclass
class PingallResult:
    """One pingall: its members ``(shown name, interface)`` in order and a ping session per ordered pair."""

    name: str
    members: list[tuple[str, str]]
    sessions: dict[tuple[str, str], PingSession] = field(default_factory=dict)  # (from, to) shown names
    sessions6: dict[tuple[str, str], PingSession] = field(default_factory=dict)  # the pairs that both have IPv6

    def pairs(self) -> list[tuple[str, str]]:
        """Every ordered pair of members, in member order."""
        names = self.names()
        return [(a, b) for a in names for b in names if a != b]

    def reached(self) -> set[tuple[str, str]]:
        """The pairs whose pings were answered in every family they share (a pair with none is not reached)."""
        return {pair for pair in self.pairs()
                if (pair in self.sessions or pair in self.sessions6)
                and all(s.succeeded for s in (self.sessions.get(pair), self.sessions6.get(pair)) if s is not None)}

    def all_sessions(self) -> list[PingSession]:
        return list(self.sessions.values()) + list(self.sessions6.values())

    def cell(self, pair: tuple[str, str]) -> str:
        """``ok`` (answered), ``X`` (not), with both families the one that failed (``X IPv6``), ``X no family``
        for a pair that shares none (an IPv4-only and an IPv6-only end), ``-`` for a member and itself."""
        if pair[0] == pair[1]:
            return "-"
        session, session6 = self.sessions.get(pair), self.sessions6.get(pair)
        if session is None and session6 is None:
            return "X no family"
        if session is None or session6 is None or session6.succeeded == session.succeeded:
            return "ok" if pair in self.reached() else "X"
        return "X IPv6" if session.succeeded else "X IPv4"

    def names(self) -> list[str]:
        return [shown for shown, _ in self.members]

    def matrix_rows(self) -> list[dict[str, Any]]:
        """The matrix as table rows: one per sender, a column per target: ``ok``, ``X`` (no answer) or ``-``."""
        rows = []
        for source in self.names():
            row: dict[str, Any] = {"from \\ to": source}
            for target in self.names():
                row[target] = self.cell((source, target))
            rows.append(row)
        return rows

    def label(self) -> str:
        """``pingall`` for the default name, ``pingall NAME`` otherwise."""
        return "pingall" if self.name == "pingall" else f"pingall {self.name}"

    def title(self) -> str:
        reached, pairs = len(self.reached()), len(self.pairs())
        return f"Reachability: {self.label()} ({reached}/{pairs} pairs reached, {pairs - reached} unreachable)"

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "members": self.names(),
                "reached": len(self.reached()), "pairs": len(self.pairs()),
                "matrix": {source: [t for t in self.names() if (source, t) in self.reached()] for source in self.names()},
                "sessions": [{"from": source, "to": target, "transmitted": s.transmitted, "received": s.received,
                              "reached": s.succeeded} for (source, target), s in self.sessions.items()]
                + [{"from": source, "to": target, "family": "ipv6", "transmitted": s.transmitted,
                    "received": s.received, "reached": s.succeeded} for (source, target), s in self.sessions6.items()]}


def pingall_results(context: ScenarioContext) -> list[PingallResult]:
    return [r for r in context.result.reachability if isinstance(r, PingallResult)]


@resolves(PingallAction)
def _resolve_pingall(context: ScenarioContext, action: PingallAction) -> None:
    members = pingall_members(context.spec, action)
    if len(members) < 2:
        raise ScenarioError(f"pingall {action.name}: it needs at least two interfaces with an address")
    for _, interface in members:
        driver_of(context, interface)


@performs(PingallAction)
def perform_pingall(context: ScenarioContext, action: PingallAction, where: Where) -> None:
    net = context.net
    result = PingallResult(action.name or "pingall", pingall_members(context.spec, action))
    context.result.reachability.append(result)
    start = net.now
    for source, source_interface in result.members:
        driver = driver_of(context, source_interface)
        for target, target_interface in result.members:
            if target_interface == source_interface:
                continue
            ident = FIRST_PING_IDENT + ping_idents_used(context, driver.nic.full_name)
            target_guest = driver_of(context, target_interface).guest
            if driver.guest.ip is not None and target_guest.ip is not None:
                session = PingSession(f"{result.name}:{source}->{target}", driver.nic.full_name, target,
                                      target_guest.ip, action.count, action.timeout_ns, ident=ident,
                                      interval_ns=action.interval_ns)
                result.sessions[(source, target)] = session
                _schedule(driver, driver.guest, session, start)
            if driver.guest.ipv6 is not None and target_guest.ipv6 is not None:  # both have IPv6
                address = reach6(driver.guest.ipv6.interfaces, target_guest.ipv6.interfaces)
                if address is not None:
                    session6 = PingSession(f"{result.name}:{source}->{target}:ipv6", driver.nic.full_name, target,
                                           address, action.count, action.timeout_ns, ident=ident,
                                           interval_ns=action.interval_ns)
                    result.sessions6[(source, target)] = session6
                    _schedule(driver, driver.guest.ipv6, session6, start)


def _schedule(driver: StackDriver, stack: Any, session: PingSession, start: int) -> None:
    """The requests of one pair: ``count`` of them from ``start``, ``interval_ns`` apart (as a ping action), by
    ``stack`` (the IPv4 or the IPv6 half of the driver's stack)."""
    template = stack.ping_template(session)
    send = stack.ping_send
    driver.repeat(session.count, start, session.interval_ns, lambda i, now: send(session, i + 1, now, template))


def _describe(pairs: set[tuple[str, str]], order: list[str]) -> str:
    rank = {name: k for k, name in enumerate(order)}
    ordered = sorted(pairs, key=lambda pair: (rank[pair[0]], rank[pair[1]]))
    return ", ".join(f"{a} -> {b}" for a, b in ordered)


@checks(ReachabilityCheck)
def check_reachability(context: ScenarioContext, check: ReachabilityCheck) -> tuple[str, bool, str]:
    results = pingall_results(context)
    result = next((r for r in results if check.name in (None, r.name)), None)
    if result is None:
        raise ScenarioError(f"pingall {check.name or ''} has not started yet".replace("  ", " "))
    table = stations(context.spec)
    by_interface = {interface: shown for shown, interface in result.members}

    def member(name: str) -> str:
        return by_interface[table[name].interface if name in table else interface_of(context.net, name)]

    names = result.names()
    wanted = check.expected_pairs(names, member)
    if check.reaches is not None:
        description = f"{result.label()}: exactly {_describe(wanted, names) or 'no pair'} reach"
    else:
        listed = {(member(a), member(b)) for a, targets in check.except_ for b in targets}
        description = f"{result.label()}: {'every' if check.all else 'no'} pair reaches" + (
            f" except {_describe(listed, names)}" if listed else "")
    reached = result.reached()
    missing, extra = wanted - reached, reached - wanted
    actual = f"{len(reached)}/{len(result.pairs())} pairs reached"
    if result.sessions6:
        actual += " (IPv4 and, where both ends have it, IPv6)" if result.sessions else " (over IPv6)"
    if missing:
        actual += f"; not reached: {_describe(missing, names)}"
    if extra:
        actual += f"; reached, not expected: {_describe(extra, names)}"
    return description, not missing and not extra, actual
