"""Read the VLAN, SR-IOV, port-security and loop keys of topology files (docs/topology.md, docs/security.md).

The section readers of ``loader.py`` call these for the keys they add to switches, switch ports, hypervisors and
VMs; ``scenario_reader.py`` adds the ``vf`` action, the port keys of the ``port`` action, the ``vlan`` key of
``send`` and ``stream`` and the expectations ``vf``, ``adapter``, ``port_security`` and ``loop`` from the tables at
the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from ..core.units import parse_rate
from ..l2.portsecurity import VIOLATIONS
from ..l2.sriov import STATES
from ..l2.storm import DEFAULT_STORM_LIMIT
from ..l2.vlan import DEFAULT_PVID, MAX_VID, VLAN_PROTOCOLS
from .fields import where
from .spec import ACTION_KINDS, EXPECTATION_KINDS, Action, Expectation, Named, Places, PortVlanSpec, VFSpec
from .yamlreader import MapReader, boolean, describe, integer_between, one_of, text

MAX_STORM_LIMIT = 1_000_000
MAX_FILTER_SIZE = 1_000_000
PORT_KEYS = ("pvid", "vlans", "max_macs", "violation")
VF_KEYS = ("vlan", "qos", "vlan_protocol", "spoofchk", "trust", "state", "max_tx_rate")


# -- value converters ---------------------------------------------------------------------------------
def vid_value(value: object) -> int:
    return integer_between(1, MAX_VID)(value)


def pvid_value(value: object) -> int | None:
    """A PVID, or ``none`` for a port on which untagged frames are dropped."""
    if value == "none":
        return None
    try:
        return vid_value(value)
    except ValueError as exc:
        raise ValueError(f"{exc} (or none: untagged frames are dropped)") from None


def _check_keys(value: dict, allowed: tuple[str, ...], what: str) -> None:
    unknown = [str(k) for k in value if k not in allowed]
    if unknown:
        raise ValueError(f"{what}: unknown key {unknown[0]!r} (known: {', '.join(allowed)})")


def vlan_member(value: object) -> tuple[int, bool]:
    """A port's VLAN: a VID (tagged on egress) or ``{vid: V, untagged: true}``."""
    if isinstance(value, dict):
        _check_keys(value, ("vid", "untagged"), "a VLAN of a port")
        if "vid" not in value:
            raise ValueError("a VLAN of a port needs vid, e.g. {vid: 10, untagged: true}")
        return vid_value(value["vid"]), boolean(value.get("untagged", False))
    return vid_value(value), False


def rate_mbps(value: object) -> int:
    """``max_tx_rate``: an integer of Mbps as ``ip link`` takes it (0: no limit), or a rate such as ``100Mbps``."""
    if isinstance(value, str):
        bps = parse_rate(value)
        if bps % 1_000_000:
            raise ValueError(f"max_tx_rate is a whole number of Mbps, got {value!r}")
        return bps // 1_000_000
    return integer_between(0, 10_000_000)(value)


def tag_value(value: object) -> tuple[int, int, int]:
    """One tag of a ``send``: a VID (802.1Q, priority 0) or ``{vid, pcp, proto}``; returns (TPID, PCP, VID)."""
    if isinstance(value, dict):
        _check_keys(value, ("vid", "pcp", "proto"), "a tag")
        if "vid" not in value:
            raise ValueError("a tag needs vid, e.g. {vid: 10, pcp: 3, proto: 802.1ad}")
        vid = integer_between(0, 4095)(value["vid"])
        pcp = integer_between(0, 7)(value.get("pcp", 0))
        proto = one_of(*VLAN_PROTOCOLS)(value.get("proto", "802.1Q"))
        return VLAN_PROTOCOLS[proto], pcp, vid
    return VLAN_PROTOCOLS["802.1Q"], 0, integer_between(0, 4095)(value)


def vlan_tags(value: object) -> tuple[tuple[int, int, int], ...]:
    """``send.vlan``: one tag, or a list of tags outermost first (``[10, 20]``: double tagging)."""
    if isinstance(value, list):
        if not value:
            raise ValueError("vlan: give a VID or a list of tags, outermost first")
        return tuple(tag_value(v) for v in value)
    return (tag_value(value),)


# -- switches and ports -------------------------------------------------------------------------------
def read_switch_keys(r: MapReader) -> dict[str, Any]:
    """The switch keys ``vlan_filtering``, ``vlan_protocol`` and ``storm_limit`` (ports are added later)."""
    return {
        "vlan_filtering": r.take("vlan_filtering", boolean, default=False),
        "vlan_protocol": r.take("vlan_protocol", one_of(*VLAN_PROTOCOLS), default="802.1Q"),
        "storm_limit": r.take("storm_limit", integer_between(1, MAX_STORM_LIMIT), default=DEFAULT_STORM_LIMIT),
        "port_vlans": [], "port_security": [],
    }


def read_port_keys(r: MapReader, port: str, keys: dict[str, Any]) -> None:
    """A port's ``pvid``, ``vlans``, ``max_macs`` and ``violation``, into the switch's ``keys``."""
    if "pvid" in r.mapping or "vlans" in r.mapping:
        pvid = r.take("pvid", pvid_value, default=None if "vlans" in r.mapping else 1)
        members = tuple(r.take_list("vlans", vlan_member, required=False))
        if not keys["vlan_filtering"]:
            r.error("pvid" if "pvid" in r.mapping else "vlans",
                    "port VLANs need vlan_filtering: true on the switch (a VLAN-unaware bridge forwards tags as payload)")
        elif pvid is None and not members:
            r.error("pvid", "a port with no pvid and no vlans carries nothing: give vlans")
        keys["port_vlans"].append((port, PortVlanSpec(pvid, members)))
    if "max_macs" in r.mapping:
        limit = r.take("max_macs", integer_between(0, 10_000_000))
        violation = r.take("violation", one_of(*VIOLATIONS), default="drop")
        keys["port_security"].append((port, limit, violation))
    elif "violation" in r.mapping:
        r.error("violation", "violation is what happens past max_macs: give max_macs too")
        r.take("violation", text)


def _static_vid(value: object) -> int:
    if value == 0:
        raise ValueError("VLAN 0 matches no frame on a VLAN-filtering switch: give a VID from 1 to 4094, or leave "
                         "vlan out to put the entry in every VLAN the port carries")
    return vid_value(value)


def read_static_vlan(r: MapReader, port: str | None, keys: dict[str, Any]) -> int | None:
    """A static entry's ``vlan`` (``bridge fdb add MAC dev PORT master static vlan VID``); None when not given, and
    the entry is then in every VLAN the port carries, as the kernel's ``br_fdb_add`` puts it."""
    if "vlan" not in r.mapping:
        return None
    vid = r.take("vlan", _static_vid)
    if vid is None:
        return None
    if not keys["vlan_filtering"]:
        r.error("vlan", "a static entry's vlan needs vlan_filtering: true on the switch (a VLAN-unaware switch "
                "has one table for all frames): set it, or leave vlan out")
        return None
    spec = dict(keys["port_vlans"]).get(port)
    carried = ({spec.pvid} - {None}) | {v for v, _ in spec.vlans} if spec is not None else {DEFAULT_PVID}
    if port is not None and vid not in carried:
        how = "" if spec is not None else ": the default of a port given no pvid or vlans"
        r.error("vlan", f"port {port} does not carry VLAN {vid} (it carries {', '.join(map(str, sorted(carried)))}"
                f"{how}), and the Linux bridge refuses an entry in a VLAN the port lacks: add {vid} to its vlans, "
                "or give one of those")
    return vid


def read_port_action_keys(r: MapReader) -> tuple[PortVlanSpec | None, tuple[int, str] | None, Places]:
    """The port keys of a ``port`` action, read as a switch's ``ports`` reads them: its VLANs (None without
    ``pvid`` and ``vlans``), its security ((max_macs, violation), or None) and where ``pvid`` and ``vlans`` were
    written. Whether the switch filters VLANs is checked with the whole file (``check_port_actions``)."""
    keys: dict[str, Any] = {"vlan_filtering": True, "port_vlans": [], "port_security": []}
    places = tuple((key, where(r, key)) for key in ("pvid", "vlans") if key in r.mapping)
    read_port_keys(r, "", keys)
    return (keys["port_vlans"][0][1] if keys["port_vlans"] else None,
            keys["port_security"][0][1:] if keys["port_security"] else None, places)


def switch_spec_keys(keys: dict[str, Any]) -> dict[str, Any]:
    """The ``SwitchSpec`` fields from ``read_switch_keys`` and ``read_port_keys``."""
    return {**keys, "port_vlans": tuple(keys["port_vlans"]), "port_security": tuple(keys["port_security"])}


# -- hypervisors and VMs ------------------------------------------------------------------------------
def read_hypervisor_keys(r: MapReader, backend: str) -> dict[str, Any]:
    keys = {"mac_filter_size": r.take("mac_filter_size", integer_between(1, MAX_FILTER_SIZE), default=None),
            "vlan_filtering": r.take("vlan_filtering", boolean, default=False)}
    if backend == "bridge" and "mac_filter_size" in r.mapping:
        r.error("mac_filter_size", "mac_filter_size is an adapter's MAC filter (backend: adapter)")
    if backend != "bridge" and "vlan_filtering" in r.mapping:
        r.error("vlan_filtering", "vlan_filtering makes a host bridge VLAN-aware (backend: bridge); on an adapter "
                "give each VM its vlan")
    return keys


def read_vf(r: MapReader) -> VFSpec | None:
    """A VM's SR-IOV keys (``vlan``, ``qos``, ``vlan_protocol``, ``spoofchk``, ``trust``, ``state``,
    ``max_tx_rate``); None when it gives none."""
    args = _vf_args(r)
    return VFSpec(**args) if args else None


_NO_VLAN = "no VLAN"


def _vf_vlan(value: object) -> int | str:
    """A VF's port VLAN: 1 to 4094, or 0 for none (as ``ip link set DEV vf N vlan 0``)."""
    vid = integer_between(0, MAX_VID)(value)
    return vid or _NO_VLAN


def _vf_args(r: MapReader) -> dict[str, Any]:
    found = {}
    for key, name, convert in (("vlan", "vlan", _vf_vlan), ("qos", "qos", integer_between(0, 7)),
                               ("vlan_protocol", "vlan_protocol", one_of(*VLAN_PROTOCOLS)),
                               ("spoofchk", "spoofchk", boolean), ("trust", "trust", boolean),
                               ("state", "state", one_of(*STATES)), ("max_tx_rate", "max_tx_rate_mbps", rate_mbps)):
        if key in r.mapping:
            value = r.take(key, convert)
            if value is not None:
                found[name] = None if value == _NO_VLAN else value
    for key in ("qos", "vlan_protocol"):
        if key in r.mapping and "vlan" not in r.mapping:
            r.error(key, f"{key} belongs to the port VLAN's tag: give vlan too")
    return found


# -- scenario: the vf action --------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class VfAction(Action, kind="vf"):
    """``ip link set DEV vf N ...`` on the VM ``vm`` mid-run: the settings given, as ``Network.set_vf`` takes
    them (``vlan`` None: no VLAN)."""

    vm: str
    changes: tuple[tuple[str, object], ...]

    @classmethod
    def read(cls, r: MapReader) -> VfAction:
        vm = r.take("vm", text)
        changes = _vf_args(r)
        if not any(k in r.mapping for k in VF_KEYS):
            r.error(None, f"set at least one of {', '.join(VF_KEYS)}")
        r.finish()
        return cls(vm=vm, changes=tuple(changes.items()))

    def named(self) -> Named:
        return (("vm", self.vm, "VM"),)


# -- expectations -------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class VfCheck(Expectation, kind="vf"):
    """The state of a VM's vNIC: each of the four is checked when given."""

    vm: str
    promiscuous: Optional[bool] = None
    allmulti: Optional[bool] = None
    refused: Optional[int] = None
    link: Optional[str] = None  # "up" or "down"

    @classmethod
    def read(cls, r: MapReader) -> VfCheck:
        check = cls(vm=r.take("vm", text), promiscuous=r.take("promiscuous", boolean, default=None),
                    allmulti=r.take("allmulti", boolean, default=None),
                    refused=r.take("refused", integer_between(0, 10**9), default=None),
                    link=r.take("link", one_of("up", "down"), default=None))
        if all(v is None for v in (check.promiscuous, check.allmulti, check.refused, check.link)):
            r.error(None, "check at least one of promiscuous, allmulti, refused, link")
        r.finish()
        return check

    def named(self) -> Named:
        return (("vm", self.vm, "VM"),)


@dataclass(frozen=True, kw_only=True)
class AdapterCheck(Expectation, kind="adapter"):
    """The MAC filter of a hypervisor's adapter: its state (``filter``) and ``entries``, each when given."""

    hypervisor: str
    filter: Optional[str] = None  # "exact", "overflow" or "unlimited"
    entries: Optional[int] = None

    @classmethod
    def read(cls, r: MapReader) -> AdapterCheck:
        check = cls(hypervisor=r.take("hypervisor", text),
                    filter=r.take("filter", one_of("exact", "overflow", "unlimited"), default=None),
                    entries=r.take("entries", integer_between(0, 10**9), default=None))
        if check.filter is None and check.entries is None:
            r.error(None, "check filter (exact, overflow or unlimited) or entries")
        r.finish()
        return check

    def named(self) -> Named:
        return (("hypervisor", self.hypervisor, "hypervisor"),)


@dataclass(frozen=True, kw_only=True)
class PortSecurityCheck(Expectation, kind="port_security"):
    """A switch port's security: whether it is shut down and its violation count, each when given."""

    port: str
    shut_down: Optional[bool] = None
    violations: Optional[int] = None

    @classmethod
    def read(cls, r: MapReader) -> PortSecurityCheck:
        check = cls(port=r.take("port", text), shut_down=r.take("shut_down", boolean, default=None),
                    violations=r.take("violations", integer_between(0, 10**15), default=None))
        if check.shut_down is None and check.violations is None:
            r.error(None, "check shut_down or violations")
        r.finish()
        return check

    def named(self) -> Named:
        return (("port", self.port, "switch"),)


def _ports(value: object) -> tuple[str, ...]:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"expected a list of switch ports such as [sw1.p2, sw2.p1], got {describe(value)}")


@dataclass(frozen=True, kw_only=True)
class LoopCheck(Expectation, kind="loop"):
    """Whether a switching loop was detected, through which ports, and how many storm_limit drops, each when
    given."""

    detected: Optional[bool] = None
    ports: Optional[tuple[str, ...]] = None
    storm_drops: Optional[int] = None

    @classmethod
    def read(cls, r: MapReader) -> LoopCheck:
        check = cls(detected=r.take("detected", boolean, default=None), ports=r.take("ports", _ports, default=None),
                    storm_drops=r.take("storm_drops", integer_between(0, 10**15), default=None))
        if check.detected is None and check.ports is None and check.storm_drops is None:
            r.error(None, "check detected, ports or storm_drops")
        r.finish()
        return check


#: kind -> reader of the security rows (docs/topology.md documents each).
SECURITY_ACTIONS = {kind: a.read for kind, a in ACTION_KINDS.items() if a.__module__ == __name__}
SECURITY_EXPECTATIONS = {kind: c.read for kind, c in EXPECTATION_KINDS.items() if c.__module__ == __name__}
