"""Run the security rows of a scenario: the ``vf`` action, the port keys of the ``port`` action, and the ``vf``,
``adapter``, ``port_security`` and ``loop`` expectations (read by ``security_reader.py``; documented in
docs/topology.md and docs/security.md).

Each is the row of its action or expectation class in ``registry.py``; a check returns ``(description, passed,
actual)`` like the other rows of ``registry.CHECKS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..core.errors import ScenarioError
from ..l2.portsecurity import PortSecurity
from ..l2.switch import LearningSwitch
from ..l2.vlan import PortVlans
from ..topology.scenario_reader import PortAction
from ..topology.security_reader import AdapterCheck, LoopCheck, PortSecurityCheck, VfAction, VfCheck
from ..topology.spec import Where
from .context import ScenarioContext
from .registry import checks, performs

if TYPE_CHECKING:
    from ..net.network import Network
    from ..l2.switch import SwitchPort


@performs(VfAction)
def perform_vf(runner: ScenarioContext, action: VfAction, where: Where) -> None:
    """``ip link set DEV vf N ...`` mid-run."""
    runner.net.set_vf(action.vm, **dict(action.changes))


def perform_port(port: "SwitchPort", action: PortAction) -> None:
    """The port keys of a ``port`` action, each as if declared anew (docs/topology.md, port).

    ``pvid``/``vlans`` replace the port's VLANs (``bridge vlan del`` of the old set, ``add`` of the new); what it
    learned in a VLAN it no longer carries is forgotten, as ``nbp_vlan_delete`` -> ``br_fdb_delete_by_port`` does.
    ``max_macs``/``violation`` replace its limit and action; the violation count and a shutdown stay (only its
    cable going down and up reopens an err-disabled port), and entries past a lowered limit stay until they age
    out or are flushed: a new source is a violation until then."""
    switch = port.node
    vlans = action.vlans
    if vlans is not None:
        if not switch.vlan_filtering:
            raise ScenarioError(f"{port.full_name}: port VLANs need vlan_filtering on switch {switch.name}")
        switch.set_vlans(port.name, PortVlans.declared(vlans.pvid, vlans.vlans))
    if action.security is not None:
        security = PortSecurity(*action.security)
        if port.security is not None:
            security.violations, security.shut_down_ns = port.security.violations, port.security.shut_down_ns
        switch.set_security(port.name, security)


def loop_ports(net: "Network") -> list[str]:
    """Every switch port a frame came back to, by name."""
    return sorted(p for name in sorted(net.switches) for p in net.switches[name].storm.loop_ports)


def _words(values: Mapping[str, object]) -> str:
    return ", ".join(f"{k} {str(v).lower()}" for k, v in values.items())


def _given(*values: tuple[str, object]) -> dict[str, object]:
    """The (name, value) pairs an expectation checks: those not None."""
    return {name: value for name, value in values if value is not None}


@checks(VfCheck)
def _vf(runner: ScenarioContext, check: VfCheck) -> tuple[str, bool, str]:
    vnic = runner.net.vnics.get(check.vm)
    if vnic is None:
        raise ScenarioError(f"no VM named {check.vm!r}")
    hypervisor = runner.net.hypervisors.get(vnic.hypervisor or "")
    adapter = hypervisor.adapter if hypervisor is not None else None
    link = "down" if adapter is not None and not adapter.vnic_link_up(vnic) else "up"
    state = {"promiscuous": vnic.promiscuous, "allmulti": vnic.allmulti,
             "refused": sum(vnic.vf.refused.values()), "link": link}
    wanted = _given(("promiscuous", check.promiscuous), ("allmulti", check.allmulti), ("refused", check.refused),
                    ("link", check.link))
    return (f"{vnic.full_name} {_words(wanted)}", all(state[k] == v for k, v in wanted.items()),
            _words({k: state[k] for k in wanted}))


@checks(AdapterCheck)
def _adapter(runner: ScenarioContext, check: AdapterCheck) -> tuple[str, bool, str]:
    hypervisor = runner.net.hypervisors.get(check.hypervisor)
    if hypervisor is None or hypervisor.adapter is None:
        raise ScenarioError(f"no hypervisor with an adapter named {check.hypervisor!r}")
    adapter = hypervisor.adapter
    mode = "unlimited" if adapter.mac_filter_size is None else "overflow" if adapter.filter_overflow else "exact"
    state = {"filter": mode, "entries": adapter.filter_entries()}
    wanted = _given(("filter", check.filter), ("entries", check.entries))
    text = lambda d: ", ".join(f"{k} {v}" for k, v in d.items())  # noqa: E731
    return (f"adapter {adapter.name} MAC filter {text(wanted)}", all(state[k] == v for k, v in wanted.items()),
            f"{text(state)} of {adapter.mac_filter_size or 'unlimited'}")


@checks(PortSecurityCheck)
def _port_security(runner: ScenarioContext, check: PortSecurityCheck) -> tuple[str, bool, str]:
    named = runner.net.port(check.port)
    if not isinstance(named.node, LearningSwitch):
        raise ScenarioError(f"{named.full_name} is not a switch port")
    port = named.node.ports[named.name]
    security = port.security
    state = {"shut_down": port.shut_down, "violations": security.violations if security is not None else 0}
    wanted = _given(("shut_down", check.shut_down), ("violations", check.violations))
    return (f"{port.full_name} port security {_words(wanted)}", all(state[k] == v for k, v in wanted.items()),
            _words(state))


@checks(LoopCheck)
def _loop(runner: ScenarioContext, check: LoopCheck) -> tuple[str, bool, str]:
    net = runner.net
    ports = loop_ports(net)
    drops = sum(net.switches[name].storm.dropped for name in net.switches)
    wanted, passed = [], True
    if check.detected is not None:
        wanted.append("a loop" if check.detected else "no loop")
        passed &= bool(ports) == check.detected
    if check.ports is not None:
        names = sorted(net.port(p).full_name for p in check.ports)
        wanted.append(f"a loop through {', '.join(names)}")
        passed &= ports == names
    if check.storm_drops is not None:
        wanted.append(f"{check.storm_drops} storm_limit drops")
        passed &= drops == check.storm_drops
    actual = (f"loop through {', '.join(ports)}" if ports else "no loop") + f"; {drops} storm_limit drops"
    return "; ".join(wanted), passed, actual
