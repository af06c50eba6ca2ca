"""The adapter's whole truth table, with and without port VLANs: one set of macvlan rules, keyed by VLAN.

Every mode of the sender and of its siblings x source (the cable: an outside host, a vNIC's own MAC, the host's; a
vNIC; the host stack) x destination (each vNIC, the host, an outside or unknown unicast, broadcast, a group some
joined, a group nobody joined) x each vNIC's VF state, link, joins and rx modes x the adapter's cable and MAC filter
is decided by the adapter three more times:

- ``beside``: the same vNICs, untagged, beside a vNIC in VLAN 20: the adapter sorts by (VLAN, MAC) and must decide
  every frame exactly as without VLANs (not for ``passthru``, whose one vNIC owns the adapter);
- ``vlan 10`` and ``vlan 100 qos 3 802.1ad``: every vNIC has that port VLAN and the cable's frames carry its tag.
  The outcomes are the same, tags aside, except for the host stack (the PF), which is in the untagged VLAN: a
  tagged frame never reaches it, and one that would have gone there alone is dropped (``not_for_us``).
"""

from __future__ import annotations

import functools
import itertools

import pytest

from conftest import BROADCAST, GROUP, udp_frame
from vswitch import DropReason, Network, Verdict
from vswitch.core.frame import TPID_8021AD, TPID_8021Q, pop_tag, push_tag
from vswitch.l2.sriov import VFControls
from vswitch.l2.vlan import outer_tag

H1, HV, UNKNOWN, NOBODY = "02:00:00:00:00:01", "02:00:00:00:00:aa", "02:00:00:00:00:99", "01:00:5e:7f:00:99"
VNICS = {"vm1": "52:54:00:00:00:01", "vm2": "52:54:00:00:00:02", "vm3": "52:54:00:00:00:03"}
BYSTANDER = ("vm9", "52:54:00:00:00:09")  # the "beside" variant's vNIC in VLAN 20
MODES = ("bridge", "vepa", "private")

#: What a vNIC is like, besides its mode: (VF state, its link up, groups joined, promiscuous, allmulti, trust).
PROFILES = {
    "plain": (None, True, (), False, False, None),
    "joined": (None, True, (GROUP,), False, False, None),
    "disabled": ("disable", True, (GROUP,), False, False, None),
    "enabled": ("enable", True, (), False, False, None),
    "down": (None, False, (GROUP,), False, False, None),
    "promiscuous": (None, True, (), True, False, True),
    "allmulti": (None, True, (), False, True, None),
}
#: The port VLAN of every vNIC per variant, as (vlan, qos, protocol); None: no port VLANs.
VARIANTS = {"vlan 10": (10, 0, "802.1Q"), "vlan 100 qos 3 802.1ad": (100, 3, "802.1ad")}


def build(modes, profiles, *, cable_up, mac_filter_size, variant):
    """hv1 (an adapter on sw1) with a vNIC per mode, each with its profile, in ``variant``."""
    net = Network()
    net.add_switch("sw1")
    net.add_hypervisor("hv1", HV, mac_filter_size=mac_filter_size)
    port_vlan = VARIANTS.get(variant)
    for (name, mac), mode, profile in zip(VNICS.items(), modes, profiles):
        state, up, groups, promiscuous, allmulti, trust = PROFILES[profile]
        vf = VFControls(state=state, trust=trust)
        if port_vlan is not None:
            vf.set_vlan(*port_vlan)
        net.add_vm("hv1", name, mac, mode=mode, vf=vf)
        for group in groups:
            net.nic(name).join(group)
        net.set_rx_mode(name, promiscuous=promiscuous or None, allmulti=allmulti or None)
        net.set_admin_state(f"{name}.eth0", up)
    if variant == "beside":
        net.add_vm("hv1", BYSTANDER[0], BYSTANDER[1], vf=VFControls(vlan=20))
    link = net.connect("hv1", "sw1")
    if not cable_up:
        net.set_link_state(link, False)
    return net


def tag_of(variant):
    """The tag the variant's VFs put on what their vNICs send (None: no port VLAN)."""
    if variant not in VARIANTS:
        return None
    vlan, qos, protocol = VARIANTS[variant]
    return (TPID_8021AD if protocol == "802.1ad" else TPID_8021Q, qos, vlan)


def cases(names):
    """(sender, source MAC, destination MAC) of every frame the table decides: from the cable, each vNIC, the host."""
    macs = [VNICS[n] for n in names]
    unicast = [*macs, HV, H1, UNKNOWN]
    groups = [BROADCAST, GROUP, NOBODY]
    out = [("cable", src, dst) for src in [H1, *macs, HV] for dst in unicast + groups if dst != src or dst in groups]
    out += [(name, VNICS[name], dst) for name in names for dst in unicast + groups]
    return out + [("host", HV, dst) for dst in (macs[0], H1, BROADCAST, GROUP)]


@functools.cache
def frame_of(src, dst):
    return udp_frame(src, dst)  # Scapy takes a millisecond: build each frame once


def table(net, names, variant):
    """Each case's decision as (outputs by interface, outcome, the frame each output sends, its tag removed)."""
    adapter, tag = net.hypervisors["hv1"].adapter, tag_of(variant)
    out = {}
    for sender, src, dst in cases(names):
        frame = frame_of(src, dst)
        if sender == "cable":
            port, sent = adapter.uplink, (push_tag(frame, *tag) if tag else frame)
        elif sender == "host":
            port, sent = adapter.host.port.peer, frame
        else:
            port, sent = net.nic(sender).port.peer, frame
        decision = adapter.handle_frame(port, sent, 0)
        copies = decision.frames or (sent,) * len(decision.outputs)
        labels = tuple(p.label for p in decision.outputs)
        vf_tag = tag if sender not in ("cable", "host") else None  # what a vNIC sends gets its VF's tag
        out[sender, src, dst] = (labels, decision.outcome, tuple(
            untagged(label, copy, vf_tag) for label, copy in zip(labels, copies, strict=True)))
    return out


def untagged(label, frame, tag):
    """A copy as the untagged table would have it: ``tag``, the sender's VF's, must be on what goes to the cable
    (then it is removed), and nothing else is tagged."""
    if tag is not None and label == "hv1.uplink":
        assert outer_tag(frame) == (tag[0], (tag[1] << 13) | tag[2]), frame.hex()
        return pop_tag(frame)
    assert outer_tag(frame) is None, (label, frame.hex())
    return frame


def in_the_vlan(row, sender):
    """What the untagged table's ``row`` becomes once every vNIC (but not the host stack) is in one VLAN."""
    labels, outcome, frames = row
    kept = [(label, frame) for label, frame in zip(labels, frames) if label != "hv1.host"]
    if sender == "cable" and (outcome in (Verdict.TO_HOST, Verdict.TO_PROMISCUOUS_VNIC, DropReason.NOT_FOR_US)
                              or outcome is Verdict.REPLICATED and not kept):
        return (), DropReason.NOT_FOR_US, ()
    return tuple(label for label, _ in kept), outcome, tuple(frame for _, frame in kept)


#: Every mode set; for mixed modes the cable is up and no MAC filter is set (their settings are the uniform sets').
MODE_SETS = [(mode,) * 3 for mode in MODES] + [m for m in itertools.product(MODES, repeat=3) if len(set(m)) > 1]
SETTINGS = [dict(cable_up=True, mac_filter_size=None), dict(cable_up=False, mac_filter_size=None),
            dict(cable_up=True, mac_filter_size=8)]


def configurations(modes):
    """(profiles, settings) to try for ``modes``: vm1 (and vm2) in every profile, vm3 joined."""
    first = list(PROFILES)
    others = ["plain", "joined", "disabled", "down"] if len(modes) > 1 else [""]
    settings = SETTINGS if len(set(modes)) == 1 else SETTINGS[:1]
    for setting, profile, other in itertools.product(settings, first, others):
        yield (profile, other, "joined")[:len(modes)], setting


def plain_table(modes, profiles, settings):
    return table(build(modes, profiles, variant="plain", **settings), list(VNICS)[:len(modes)], "plain")


@pytest.mark.parametrize("modes", MODE_SETS + [("passthru",)], ids="-".join)
def test_every_case_is_decided_alike_with_and_without_port_vlans(modes):
    names = list(VNICS)[:len(modes)]
    for profiles, settings in configurations(modes):
        plain = plain_table(modes, profiles, settings)
        if modes != ("passthru",):  # a passthru vNIC owns the adapter: no vNIC can be beside it
            beside = table(build(modes, profiles, variant="beside", **settings), names, "beside")
            assert beside == plain, (modes, profiles, settings)
        for variant in VARIANTS:
            tagged = table(build(modes, profiles, variant=variant, **settings), names, variant)
            expected = {case: in_the_vlan(row, case[0]) for case, row in plain.items()}
            assert tagged == expected, (variant, modes, profiles, settings)


def test_the_table_reaches_every_rule():
    """The enumeration meets every outcome the adapter has, so no rule goes untried."""
    seen = {outcome for modes in MODE_SETS + [("passthru",)] for profiles, settings in configurations(modes)
            for _, outcome, _ in plain_table(modes, profiles, settings).values()}
    assert seen == {Verdict.TO_VNIC, Verdict.BRIDGED, Verdict.TO_UPLINK, Verdict.TO_HOST, Verdict.REPLICATED,
                    Verdict.REFLECTED_TO_SOURCE, Verdict.TO_PROMISCUOUS_VNIC, DropReason.NOT_FOR_US,
                    DropReason.VNIC_DOWN, DropReason.VF_DISABLED, DropReason.LINK_DOWN}
