"""Run the security rows of a scenario: the ``vf`` action and the ``vf``, ``adapter``, ``port_security`` and
``loop`` expectations (read by ``security_reader.py``; documented in docs/topology.md and docs/security.md).

Each check returns ``(description, passed, actual)`` like the other rows of ``scenario.CHECKS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ScenarioError
from .switch import LearningSwitch

if TYPE_CHECKING:
    from .network import Network
    from .scenario import ScenarioRunner


def perform_vf(runner: "ScenarioRunner", args: dict[str, Any]) -> None:
    """``ip link set DEV vf N ...`` mid-run."""
    runner.net.set_vf(args["vm"], **args["changes"])


def loop_ports(net: "Network") -> list[str]:
    """Every switch port a frame came back to, by name."""
    return sorted(p for name in sorted(net.switches) for p in net.switches[name].storm.loop_ports)


def _vf(runner: "ScenarioRunner", args: dict[str, Any]) -> tuple[str, bool, str]:
    vnic = runner.net.vnics.get(args["vm"])
    if vnic is None:
        raise ScenarioError(f"no VM named {args['vm']!r}")
    hypervisor = runner.net.hypervisors.get(vnic.hypervisor or "")
    adapter = hypervisor.adapter if hypervisor is not None else None
    link = "down" if adapter is not None and not adapter.vnic_link_up(vnic) else "up"
    state = {"promiscuous": vnic.promiscuous, "allmulti": vnic.allmulti,
             "refused": sum(vnic.vf.refused.values()), "link": link}
    wanted = {k: args[k] for k in ("promiscuous", "allmulti", "refused", "link") if args[k] is not None}
    words = lambda d: ", ".join(f"{k} {str(v).lower()}" for k, v in d.items())  # noqa: E731
    return (f"{vnic.full_name} {words(wanted)}", all(state[k] == v for k, v in wanted.items()),
            words({k: state[k] for k in wanted}))


def _adapter(runner: "ScenarioRunner", args: dict[str, Any]) -> tuple[str, bool, str]:
    hypervisor = runner.net.hypervisors.get(args["hypervisor"])
    if hypervisor is None or hypervisor.adapter is None:
        raise ScenarioError(f"no hypervisor with an adapter named {args['hypervisor']!r}")
    adapter = hypervisor.adapter
    mode = "unlimited" if adapter.mac_filter_size is None else "overflow" if adapter.filter_overflow else "exact"
    state = {"filter": mode, "entries": adapter.filter_entries()}
    wanted = {k: args[k] for k in ("filter", "entries") if args[k] is not None}
    text = lambda d: ", ".join(f"{k} {v}" for k, v in d.items())  # noqa: E731
    return (f"adapter {adapter.name} MAC filter {text(wanted)}", all(state[k] == v for k, v in wanted.items()),
            f"{text(state)} of {adapter.mac_filter_size or 'unlimited'}")


def _port_security(runner: "ScenarioRunner", args: dict[str, Any]) -> tuple[str, bool, str]:
    port = runner.net.port(args["port"])
    if not isinstance(port.node, LearningSwitch):
        raise ScenarioError(f"{port.full_name} is not a switch port")
    security = port.security
    state = {"shut_down": port.shut_down, "violations": security.violations if security is not None else 0}
    wanted = {k: args[k] for k in ("shut_down", "violations") if args[k] is not None}
    text = lambda d: ", ".join(f"{k} {str(v).lower()}" for k, v in d.items())  # noqa: E731
    return (f"{port.full_name} port security {text(wanted)}", all(state[k] == v for k, v in wanted.items()),
            text(state))


def _loop(runner: "ScenarioRunner", args: dict[str, Any]) -> tuple[str, bool, str]:
    net = runner.net
    ports = loop_ports(net)
    drops = sum(net.switches[name].storm.dropped for name in net.switches)
    wanted, passed = [], True
    if args["detected"] is not None:
        wanted.append("a loop" if args["detected"] else "no loop")
        passed &= bool(ports) == args["detected"]
    if args["ports"] is not None:
        names = sorted(net.port(p).full_name for p in args["ports"])
        wanted.append(f"a loop through {', '.join(names)}")
        passed &= ports == names
    if args["storm_drops"] is not None:
        wanted.append(f"{args['storm_drops']} storm_limit drops")
        passed &= drops == args["storm_drops"]
    actual = (f"loop through {', '.join(ports)}" if ports else "no loop") + f"; {drops} storm_limit drops"
    return "; ".join(wanted), passed, actual


CHECKS = {"vf": _vf, "adapter": _adapter, "port_security": _port_security, "loop": _loop}
