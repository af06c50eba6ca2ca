"""Run the security rows of a scenario: the ``vf`` action, the port keys of the ``port`` action, and the ``vf``,
``adapter``, ``port_security`` and ``loop`` expectations (read by ``security_reader.py``; documented in
docs/topology.md and docs/security.md).

Each check returns ``(description, passed, actual)`` like the other rows of ``scenario.CHECKS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.errors import ScenarioError
from ..l2.portsecurity import PortSecurity
from ..l2.switch import LearningSwitch
from ..l2.vlan import PortVlans
from .context import ScenarioContext

if TYPE_CHECKING:
    from ..net.network import Network
    from ..l2.switch import SwitchPort


def perform_vf(runner: ScenarioContext, args: dict[str, Any]) -> None:
    """``ip link set DEV vf N ...`` mid-run."""
    runner.net.set_vf(args["vm"], **args["changes"])


def perform_port(port: "SwitchPort", args: dict[str, Any]) -> None:
    """The port keys of a ``port`` action, each as if declared anew (docs/topology.md, port).

    ``pvid``/``vlans`` replace the port's VLANs (``bridge vlan del`` of the old set, ``add`` of the new); what it
    learned in a VLAN it no longer carries is forgotten, as ``nbp_vlan_delete`` -> ``br_fdb_delete_by_port`` does.
    ``max_macs``/``violation`` replace its limit and action; the violation count and a shutdown stay (only its
    cable going down and up reopens an err-disabled port), and entries past a lowered limit stay until they age
    out or are flushed: a new source is a violation until then."""
    switch = port.node
    vlans = args.get("vlans")
    if vlans is not None:
        if not switch.vlan_filtering:
            raise ScenarioError(f"{port.full_name}: port VLANs need vlan_filtering on switch {switch.name}")
        switch.set_vlans(port.name, PortVlans.declared(vlans.pvid, vlans.vlans))
    if args.get("security") is not None:
        security = PortSecurity(*args["security"])
        if port.security is not None:
            security.violations, security.shut_down_ns = port.security.violations, port.security.shut_down_ns
        switch.set_security(port.name, security)


def loop_ports(net: "Network") -> list[str]:
    """Every switch port a frame came back to, by name."""
    return sorted(p for name in sorted(net.switches) for p in net.switches[name].storm.loop_ports)


def _vf(runner: ScenarioContext, args: dict[str, Any]) -> tuple[str, bool, str]:
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


def _adapter(runner: ScenarioContext, args: dict[str, Any]) -> tuple[str, bool, str]:
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


def _port_security(runner: ScenarioContext, args: dict[str, Any]) -> tuple[str, bool, str]:
    port = runner.net.port(args["port"])
    if not isinstance(port.node, LearningSwitch):
        raise ScenarioError(f"{port.full_name} is not a switch port")
    security = port.security
    state = {"shut_down": port.shut_down, "violations": security.violations if security is not None else 0}
    wanted = {k: args[k] for k in ("shut_down", "violations") if args[k] is not None}
    text = lambda d: ", ".join(f"{k} {str(v).lower()}" for k, v in d.items())  # noqa: E731
    return (f"{port.full_name} port security {text(wanted)}", all(state[k] == v for k, v in wanted.items()),
            text(state))


def _loop(runner: ScenarioContext, args: dict[str, Any]) -> tuple[str, bool, str]:
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
