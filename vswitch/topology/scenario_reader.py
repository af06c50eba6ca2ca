"""Read the ``scenario`` (timed actions) and ``expect`` (checks) sections of a topology file.

Each scenario item is ``{at: TIME, <action>: ARGS}``; each expectation ``{<kind>: ARGS}`` with an optional
``at``. Every kind is a frozen class that reads itself and registers its YAML key (``spec.ACTION_KINDS``,
``spec.EXPECTATION_KINDS``): the network actions are here, the frame, table and counter expectations in
``frame_expectations.py``, the guest and security ones in ``guest_reader.py`` and ``security_reader.py``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Optional, Sequence, Union

from ..core.mac import MACAddress
from ..core.units import parse_duration
from ..guests.stream import period_ns
from ..guests.traffic import UdpFields
from ..l2.adapter import MODES
from ..l2.switch import PORT_FLAGS
from . import frame_expectations  # noqa: F401  (registers the frame, table and counter expectations)
from .bounds import ScenarioBudget
from .fields import frame_count, group_mac, virtual_time, where
from .frame_keys import check_one_destination, read_addressing, read_udp
from .guest_reader import name_actions
from .located import Document, Location
from .security_reader import PORT_KEYS, read_port_action_keys, vlan_tags
from .spec import (ACTION_KINDS, EXPECTATION_KINDS, Action, ActionSpec, Expectation, ExpectationSpec, HostSpec,
                   HypervisorSpec, NamedAction, Named, PortVlanSpec, Tags, TopologySpec, VmStates)
from .yamlreader import MapReader, boolean, describe, integer_between, one_of, text


def _ethertype(value: object) -> int:
    number = integer_between(0, 0xFFFF)(value)
    if number < 0x600:
        raise ValueError(f"ethertype {number:#06x} is an 802.3 length, not a type: use 0x0600 or more")
    return number


def _hex_bytes(value: object) -> bytes:
    try:
        return bytes.fromhex(text(value).replace(":", " "))
    except ValueError:
        raise ValueError(f"payload_hex must be hex digits (spaces or colons allowed), got {describe(value)}") from None


# -- actions ------------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class SendAction(NamedAction, kind="send"):
    """``count`` frames from ``from_`` to the interface ``to`` or to the MAC ``dst`` (one of them)."""

    from_: str
    to: Optional[str] = None
    dst: Union[MACAddress, str, None] = None  # a MAC or "broadcast"
    src: Optional[MACAddress] = None  # None: the sender's MAC
    ethertype: Optional[int] = None  # None: the default (an experimental type), or IPv4 with udp
    payload: bytes = b""
    size: Optional[int] = None
    count: int = 1
    interval_ns: int = 1_000_000
    vlan: Tags = ()  # (TPID, PCP, VID) of each tag, outermost first
    udp: Optional[UdpFields] = None

    @classmethod
    def read(cls, r: MapReader) -> SendAction:
        keys: dict[str, Any] = {
            **read_addressing(r),
            "ethertype": r.take("ethertype", _ethertype, default=None),
            "payload": r.take("payload", lambda v: text(v).encode(), default=b""),
            "size": r.take("size", integer_between(14, 65535), default=None),
            "count": r.take("count", frame_count(r), default=1),
            "interval_ns": r.take("interval", parse_duration, default=1_000_000),
            "name": r.take("name", text, default=None),
        }
        if "vlan" in r.mapping:  # tags, outermost first (security_reader.py)
            keys["vlan"] = r.take("vlan", vlan_tags)
        if "payload_hex" in r.mapping:
            keys["payload"] = r.take("payload_hex", _hex_bytes)
        else:
            r.take("payload_hex", _hex_bytes, default=None)
        read_udp(r, keys)
        check_one_destination(r, keys)
        r.finish()
        return cls(**keys)

    def named(self) -> Named:
        return (("from", self.from_, "interface"), ("to", self.to, "interface"))

    def frame_name(self) -> Optional[str]:
        return self.name

    def frame_budget(self, vms: VmStates) -> tuple[Optional[int], Optional[Fraction]]:
        return self.count, period_ns(interval_ns=self.interval_ns, frame_len=self.size or 60)


@dataclass(frozen=True, kw_only=True)
class LinkAction(Action, kind="link"):
    """The link at the interface or port ``a`` (between ``a`` and ``b``) goes up or down."""

    a: str
    b: Optional[str] = None
    up: bool

    @classmethod
    def read(cls, r: MapReader) -> LinkAction:
        action = cls(a=r.take("a", text), b=r.take("b", text, default=None), up=r.take("up", boolean))
        r.finish()
        return action

    def named(self) -> Named:
        return (("a", self.a, "interface"), ("b", self.b, "interface"))


@dataclass(frozen=True, kw_only=True)
class DetachAction(Action, kind="detach"):
    """The VM ``vm`` leaves its hypervisor (``detach: vm1``)."""

    vm: str

    @classmethod
    def read_item(cls, item: MapReader) -> DetachAction:
        return cls(vm=item.take(cls.kind, text))

    def named(self) -> Named:
        return (("vm", self.vm, "VM"),)


@dataclass(frozen=True, kw_only=True)
class AttachAction(Action, kind="attach"):
    """The VM ``vm`` joins ``hypervisor`` (in ``mode``, or the hypervisor's)."""

    vm: str
    hypervisor: str
    mode: Optional[str] = None

    @classmethod
    def read(cls, r: MapReader) -> AttachAction:
        action = cls(vm=r.take("vm", text), hypervisor=r.take("hypervisor", text),
                     mode=r.take("mode", one_of(*MODES), default=None))
        r.finish()
        return action

    def named(self) -> Named:
        return (("vm", self.vm, "VM"), ("hypervisor", self.hypervisor, "hypervisor"))


@dataclass(frozen=True, kw_only=True)
class PortAction(Action, kind="port"):
    """A switch port's flags, VLANs (``vlans``) and port security (``security``: max_macs, violation) change;
    what is None stays as it is. ``places`` keeps ``pvid`` and ``vlans`` (``check_port_actions``)."""

    port: str
    flags: tuple[tuple[str, bool], ...] = ()
    vlans: Optional[PortVlanSpec] = None
    security: Optional[tuple[int, str]] = None

    @classmethod
    def read(cls, r: MapReader) -> PortAction:
        port = r.take("port", text)
        flags = {flag: r.take(flag, boolean, default=None) for flag in PORT_FLAGS}
        vlans, security, places = read_port_action_keys(r)  # pvid, vlans, max_macs, violation
        if set(r.mapping) == {"port"}:  # an unknown key (a typo: hairpn) is reported by finish() alone
            r.error(None, f"set at least one flag ({', '.join(PORT_FLAGS)}) or port key ({', '.join(PORT_KEYS)})")
        r.finish()
        return cls(port=port, flags=tuple((k, v) for k, v in flags.items() if v is not None), vlans=vlans,
                   security=security, places=places)

    def named(self) -> Named:
        return (("port", self.port, "switch"),)


def check_port_actions(spec: TopologySpec, document: Document) -> None:
    """Report ``port`` actions that set VLANs on a switch without ``vlan_filtering``, or on a host bridge (whose
    ports' VLANs follow its VMs' ``vlan``), at the ``pvid`` or ``vlans`` key."""
    switches = {sw.name: sw for sw in spec.switches}
    bridges = {hv.name for hv in spec.hypervisors if hv.backend == "bridge"}
    for step in spec.scenario:
        action = step.action
        if not isinstance(action, PortAction) or action.vlans is None:
            continue
        node = action.port.split(".", 1)[0]
        place = action.places[0][1] if action.places else step.where
        if node in bridges:
            message = (f"{node} is a host bridge: its ports' VLANs follow its VMs' vlan; change a guest's VLAN with "
                       "a vf action ({vm: VM, vlan: VID})")
        elif node in switches and not switches[node].vlan_filtering:
            line = f" (line {switches[node].where.line})" if switches[node].where.line else ""
            message = (f"port VLANs need vlan_filtering: true on switch {node}{line}: a VLAN-unaware bridge "
                       "forwards tags as payload")
        else:
            continue  # not a switch: _check_names reports it
        document.report(Location(place.line, place.column) if place.line else None, place.path, message)


@dataclass(frozen=True, kw_only=True)
class InterfaceAction(Action, kind="interface"):
    """``ip link set``-like changes of the interface ``name``: up/down, promiscuous, allmulti, groups."""

    name: str
    up: Optional[bool] = None
    promiscuous: Optional[bool] = None
    allmulti: Optional[bool] = None
    join: tuple[MACAddress, ...] = ()
    leave: tuple[MACAddress, ...] = ()

    @classmethod
    def read(cls, r: MapReader) -> InterfaceAction:
        action = cls(name=r.take("name", text), up=r.take("up", boolean, default=None),
                     promiscuous=r.take("promiscuous", boolean, default=None),
                     allmulti=r.take("allmulti", boolean, default=None),
                     join=tuple(r.take_list("join", group_mac, required=False)),
                     leave=tuple(r.take_list("leave", group_mac, required=False)))
        r.finish()
        return action

    def named(self) -> Named:
        return (("name", self.name, "interface"),)


@dataclass(frozen=True, kw_only=True)
class ExpectAction(Action, kind="expect"):
    """An expectation checked at the action's time (``expect: {delivered: ...}``)."""

    check: Expectation

    @classmethod
    def read(cls, r: MapReader) -> Optional[ExpectAction]:
        check = _read_one(r, EXPECTATION_KINDS, "expectation")
        r.finish()
        return cls(check=check) if check is not None else None


#: Action name -> reader of its item (``detach`` takes a bare VM name), for the docs tests.
ACTIONS = {kind: action.read_item for kind, action in ACTION_KINDS.items()}


# -- sections -----------------------------------------------------------------------------------------
def _read_one(r: MapReader, kinds: dict[str, Any], what: str) -> Any:
    """The single action/expectation of an item, read by its class (None when there is not exactly one)."""
    keys = [k for k in r.mapping if k in kinds]
    if len(keys) != 1:
        known = sorted(kinds)
        others = [str(k) for k in r.mapping if k != "at"]
        hint = ""
        if not keys and others:
            close = difflib.get_close_matches(others[0], known, n=1)
            hint = f"; {others[0]!r} is not one" + (f" (did you mean {close[0]!r}?)" if close else "")
        r.error(None, f"each item needs exactly one {what} ({', '.join(known)}){hint}")
        for key in r.mapping:
            r.take(key, lambda v: v, default=None)
        return None
    return kinds[keys[0]].read_item(r)


def read_scenario(top: MapReader, hosts: Sequence[HostSpec] = (), hypervisors: Sequence[HypervisorSpec] = ()
                  ) -> list[ActionSpec]:
    """The scenario's actions, each unnamed guest action named; ``hosts`` and ``hypervisors`` (read before it) for
    what the actions send (``bounds.ScenarioBudget``)."""
    actions = []
    at = 0
    budget = ScenarioBudget(top.document, hosts, hypervisors)
    for item in top.take_maps("scenario", required=False):
        given = item.take("at", virtual_time(item), default=None)
        at = at if given is None else given
        action = _read_one(item, ACTION_KINDS, "action")
        item.finish()
        if action is not None:
            actions.append(ActionSpec(at, action, where(item)))
            budget.add(item, action, at)
    budget.finish()
    return name_actions(actions)


def read_expectations(top: MapReader) -> list[ExpectationSpec]:
    checks = []
    for item in top.take_maps("expect", required=False):
        at = item.take("at", virtual_time(item), default=None)
        check = _read_one(item, EXPECTATION_KINDS, "expectation")
        item.finish()
        if check is not None:
            checks.append(ExpectationSpec(check, at, where(item)))
    return checks


def frame_names(actions: list[ActionSpec]) -> set[str]:
    """Names that ``delivered``/``dropped`` expectations may use: sends, migration announcements, replays."""
    return {name for a in actions if (name := a.action.frame_name())}
