"""The ``stp`` expectation: a switch's spanning tree role, a port's state and role (``l2/stp.py``)."""

from __future__ import annotations

from ..core.errors import ScenarioError
from ..l2.stp_port import STATE_NAMES
from ..topology.stp_reader import StpCheck
from .context import ScenarioContext
from .registry import checks


@checks(StpCheck)
def _stp(context: ScenarioContext, check: StpCheck) -> tuple[str, bool, str]:
    switch = context.net.switch(check.switch)
    stp = switch.stp
    if stp is None:
        raise ScenarioError(f"switch {switch.name} does not run STP: add stp: true to it")
    wanted, actual, passed = [], [], True
    if check.root is not None:
        is_root = stp.is_root_bridge()
        wanted.append(f"{switch.name} {'is' if check.root else 'is not'} the root bridge")
        actual.append(f"{switch.name} {'is' if is_root else 'is not'} the root bridge")
        passed &= is_root == check.root
    if check.port is not None:
        port = stp.by_name.get(check.port)
        if port is None:
            switch.port(check.port)  # a ScenarioError-like TopologyError listing the ports
            raise ScenarioError(f"port {switch.name}.{check.port} joined no spanning tree (it was added later)")
        state, role = STATE_NAMES[port.state], stp.role(port)
        if check.state is not None:
            wanted.append(f"{port.port.full_name} {check.state}")
            passed &= state == check.state
        if check.role is not None:
            wanted.append(f"{port.port.full_name} {check.role}")
            passed &= role == check.role
        actual.append(f"{port.port.full_name} {state}, {role}")
    return "; ".join(wanted), passed, "; ".join(actual)
