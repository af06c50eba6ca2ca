"""A switch's spanning tree keys (``stp``, ``priority``, ``hello_time``, ``max_age``, ``forward_delay``) and its
ports' (``priority``, ``path_cost``), with the Linux bridge's defaults and ranges (docs/stp.md)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Optional

from ..core.units import format_duration, parse_duration
from ..l2.stp_port import (DEFAULT_FORWARD_DELAY_NS, DEFAULT_HELLO_NS, DEFAULT_MAX_AGE_NS, DEFAULT_PRIORITY,
                      FORWARD_DELAY_RANGE, HELLO_RANGE, MAX_AGE_RANGE, PATH_COST_RANGE, PORT_PRIORITY_RANGE,
                      PRIORITY_RANGE, STATE_NAMES)
from .spec import Expectation, Named, StpSpec
from .yamlreader import MapReader, boolean, integer_between, one_of, text

SWITCH_KEYS = ("priority", "hello_time", "max_age", "forward_delay")
PORT_KEYS = ("priority", "path_cost")
ROLES = ("root", "designated", "non-designated", "disabled")


def duration_between(bounds: tuple[int, int], kernel_name: str) -> Callable[[object], int]:
    """A converter to nanoseconds within ``bounds``, naming the kernel's limits when out of them."""
    def convert(value: object) -> int:
        ns = parse_duration(value)
        if not bounds[0] <= ns <= bounds[1]:
            raise ValueError(f"{format_duration(ns)} is out of range: the Linux bridge takes "
                             f"{format_duration(bounds[0])} to {format_duration(bounds[1])} ({kernel_name})")
        return ns
    return convert


def read_stp_switch_keys(r: MapReader) -> dict[str, Any]:
    """``stp: true`` and its timers and priority; the ports' keys are added by ``read_stp_port_keys``."""
    enabled = r.take("stp", boolean, default=False)
    keys: dict[str, Any] = {
        "enabled": enabled,
        "priority": r.take("priority", integer_between(*PRIORITY_RANGE), default=DEFAULT_PRIORITY),
        "hello_time_ns": r.take("hello_time", duration_between(HELLO_RANGE, "BR_MIN/MAX_HELLO_TIME"),
                                default=DEFAULT_HELLO_NS),
        "max_age_ns": r.take("max_age", duration_between(MAX_AGE_RANGE, "BR_MIN/MAX_MAX_AGE"),
                             default=DEFAULT_MAX_AGE_NS),
        "forward_delay_ns": r.take("forward_delay", duration_between(FORWARD_DELAY_RANGE,
                                                                     "BR_MIN/MAX_FORWARD_DELAY"),
                                   default=DEFAULT_FORWARD_DELAY_NS),
        "ports": [],
    }
    if not enabled:
        for key in SWITCH_KEYS:
            if key in r.mapping:
                r.error(key, f"{key} is a spanning tree setting: add stp: true to the switch, or remove {key}")
    return keys


def read_stp_port_keys(r: MapReader, port: str, keys: dict[str, Any]) -> None:
    """A port's STP ``priority`` (0-63, default 32) and ``path_cost`` (1-65535, default from the link's speed)."""
    if not any(key in r.mapping for key in PORT_KEYS):
        return
    priority = r.take("priority", integer_between(*PORT_PRIORITY_RANGE), default=None)
    cost = r.take("path_cost", integer_between(*PATH_COST_RANGE), default=None)
    if not keys["enabled"]:
        r.error("priority" if "priority" in r.mapping else "path_cost",
                "port priority and path_cost are spanning tree settings: add stp: true to the switch")
    keys["ports"].append((port, priority, cost))


def stp_spec(keys: dict[str, Any]) -> StpSpec | None:
    """The switch's ``StpSpec`` (None without ``stp: true``)."""
    if not keys["enabled"]:
        return None
    return StpSpec(keys["priority"], keys["hello_time_ns"], keys["max_age_ns"], keys["forward_delay_ns"],
                   tuple(keys["ports"]))


@dataclass(frozen=True, kw_only=True)
class StpCheck(Expectation, kind="stp"):
    """A spanning tree's outcome: whether ``switch`` is the root bridge (``root``), and a port's ``state`` and
    ``role``, each when given."""

    switch: str
    port: Optional[str] = None
    state: Optional[str] = None
    role: Optional[str] = None
    root: Optional[bool] = None

    @classmethod
    def read(cls, r: MapReader) -> StpCheck:
        check = cls(switch=r.take("switch", text), port=r.take("port", text, default=None),
                    state=r.take("state", one_of(*STATE_NAMES), default=None),
                    role=r.take("role", one_of(*ROLES), default=None), root=r.take("root", boolean, default=None))
        if check.port is None and (check.state is not None or check.role is not None):
            r.error("state" if check.state is not None else "role", "a state or role is a port's: give port too")
        elif check.port is not None and check.state is None and check.role is None:
            r.error("port", "check the port's state or role (or both)")
        elif check.port is None and check.root is None:
            r.error(None, "check root (true or false), or a port's state or role")
        if check.port is not None and check.switch and check.port.startswith(f"{check.switch}."):  # sw1.p1
            check = replace(check, port=check.port[len(check.switch) + 1:])
        r.finish()
        return check

    def named(self) -> Named:
        return (("switch", self.switch, "switch"),)
