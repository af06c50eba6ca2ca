"""The guest's own announcement after a migration (issue 18): a virtio-net guest under QEMU
(``VIRTIO_NET_F_GUEST_ANNOUNCE``) in each RARP round, a Xen guest once; Linux's ``netdev_notify_peers`` sends a
gratuitous ARP per IPv4 address, an unsolicited neighbour advertisement per usable IPv6 address and an MLDv2
report. What a user observes: the frames, the switch relearning the VM from them, a neighbour's entry resolved."""

from __future__ import annotations

from ipaddress import IPv6Address

import pytest

from vswitch.guests.inet6 import ALL_NODES, ICMP6_TYPE, IP6_DST, IP6_SRC, ND_TARGET, UNSPECIFIED
from vswitch.guests.ipv6 import Ipv6Stack
from vswitch.guests.migrate import qemu_announce_offsets
from vswitch.guests.stack import GuestStack
from vswitch.scenario.runner import ScenarioRunner
from vswitch.topology.build import build_network
from vswitch.topology.loader import load_topology_text

MS = 10**6
VM1 = bytes.fromhex("525400000001")
LAB = """\
name: moves
switches: [{{name: sw1}}]
hosts:
  - {{name: h1, mac: "02:00:00:00:00:01", ip: 192.0.2.1/24, ip6: [2001:db8::1/64]}}
  - {{name: h2, mac: "02:00:00:00:00:02", ip6: [2001:db8::2/64]}}
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    io: {io}
    vms: [{{name: vm1, mac: "52:54:00:00:00:01", {vm}}}]
  - {{name: hv2, mac: "02:00:00:00:00:bb", io: {io}}}
links: [[h1, sw1.p1], [hv1, sw1.p2], [hv2, sw1.p3], [h2, sw1.p4]]
scenario:
  - {{at: 2s, migrate: {{vm: vm1, to: hv2, downtime: 100ms, {migrate}}}}}
{more}"""
DUAL = "ip: 192.0.2.11/24, ip6: [2001:db8::11/64, 2001:db8::12/64]"


def run(io: str = "virtio", vm: str = DUAL, migrate: str = "announce: qemu", more: str = ""):
    spec = load_topology_text(LAB.format(io=io, vm=vm, migrate=migrate, more=more), "lab.yaml")
    net = build_network(spec)
    return net, ScenarioRunner(spec, net).run()


def announced(net) -> list[tuple[int, str]]:
    """What h1 received from vm1 after it resumed (2.1 s): (ms after the resume, kind)."""
    kinds = {b"\x80\x35": "rarp", b"\x08\x06": "garp"}
    out = []
    for d in net.deliveries("h1"):
        if d.frame[6:12] == VM1 and d.time_ns >= 2100 * MS:
            kind = kinds.get(d.frame[12:14]) or f"na {IPv6Address(d.frame[ND_TARGET])}"
            out.append(((d.time_ns - 2100 * MS) // MS, kind))
    return out


def test_a_virtio_guest_announces_itself_in_every_qemu_round_right_after_the_rarp():
    net, result = run()
    nas = ["na 2001:db8::12", "na 2001:db8::11", "na fe80::5054:ff:fe00:1"]  # ip -6 addr's order
    assert announced(net) == [(ms, kind) for ms in (0, 50, 200, 450, 800) for kind in ["rarp", "garp", *nas]]
    guest = net.nic("vm1").stack.guest
    assert guest.counters["unsolicited_na_sent"] == 15 and guest.counters["gratuitous_arp_sent"] == 5
    assert len(result.frames["vm1-announce"]) == 5 * 6  # RARP, gratuitous ARP, 3 NAs and an MLD report a round
    assert [o // MS for o in qemu_announce_offsets()] == [0, 50, 200, 450, 800]


@pytest.mark.parametrize("io, migrate", [("emulated", "announce: qemu"), ("rtl8139", "announce: qemu"),
                                         ("none", "announce: qemu"), ("virtio", "guest_announce: false")])
def test_other_nics_or_guest_announce_off_leave_qemu_s_rarp_alone(io, migrate):
    net, _ = run(io=io, migrate=migrate)
    assert announced(net) == [(ms, "rarp") for ms in (0, 50, 200, 450, 800)]


def test_guest_announce_on_makes_any_guest_announce_and_an_ipv4_only_one_sends_no_advertisement():
    net, _ = run(io="none", vm="ip: 192.0.2.11/24", migrate="guest_announce: true")
    assert announced(net) == [(ms, kind) for ms in (0, 50, 200, 450, 800) for kind in ("rarp", "garp")]


def test_the_advertisement_has_linux_s_fields_and_the_mld_report_follows():
    host = GuestStack("vm1.eth0", "52:54:00:00:00:01", None)
    host.ipv6 = Ipv6Stack(host, ["2001:db8::11/64"])
    host.ipv6.link_up(0)
    assert [f for _, f in host.announce(10)][:-1] == []  # DAD not over: tentative addresses are not announced
    assert IPv6Address(host.announce(10)[-1][1][IP6_SRC]) == IPv6Address(UNSPECIFIED)  # the report from ::
    host.ipv6.expire(10**9)
    *adverts, report = [f for _, f in host.announce(2 * 10**9)]
    for frame, target in zip(adverts, ("2001:db8::11", "fe80::5054:ff:fe00:1")):
        assert frame[:6] == bytes.fromhex("333300000001") and frame[IP6_DST] == ALL_NODES and frame[21] == 255
        assert frame[IP6_SRC] == frame[ND_TARGET] == IPv6Address(target).packed
        assert (frame[ICMP6_TYPE], frame[ICMP6_TYPE + 4]) == (136, 0x20)  # override set; router, solicited clear
        assert frame[-8:] == bytes((2, 1)) + VM1  # the target link-layer address option
    assert report[IP6_SRC] == IPv6Address("fe80::5054:ff:fe00:1").packed and report[70] == 2  # mode is exclude


XEN_V6 = "ip6: [2001:db8::11/64]"
WATCH = """\
  - {at: 1900ms, expect: {table: {switch: sw1, mac: "52:54:00:00:00:01", port: p2}}}
  - {at: 2150ms, expect: {table: {switch: sw1, mac: "52:54:00:00:00:01", port: p3}}}
"""


def test_the_switch_relearns_an_ipv6_only_xen_guest_from_its_advertisements_alone():
    net, result = run(io="none", vm=XEN_V6, migrate="announce: xen", more=WATCH)
    assert all(check.passed for check in result.checks)
    assert [kind for _, kind in announced(net)] == ["na 2001:db8::11", "na fe80::5054:ff:fe00:1"]
    _, silent = run(io="none", vm=XEN_V6, migrate="announce: none", more=WATCH)
    assert [check.passed for check in silent.checks] == [True, False]  # without them sw1 still points at p2


PING_IN_DOWNTIME = """\
  - {at: 2050ms, ping: {from: h2, to: vm1, count: 1, timeout: 500ms, name: during}}
  - {at: 2090ms, expect: {ndp_entry: {on: h2, ip: vm1, state: INCOMPLETE}}}
  - {at: 2150ms, expect: {ndp_entry: {on: h2, ip: vm1, state: STATE}}}
"""


@pytest.mark.parametrize("migrate, received, state", [("announce: qemu", 1, "DELAY"),
                                                      ("guest_announce: false", 0, "INCOMPLETE")])
def test_an_incomplete_neighbour_entry_takes_the_mac_from_the_advertisement_and_sends_what_waited(
        migrate, received, state):
    _net, result = run(vm=XEN_V6, migrate=migrate, more=PING_IN_DOWNTIME.replace("STATE", state))
    assert [check.passed for check in result.checks] == [True, True]  # h2's solicitation died with vm1 away; then
    assert result.sessions["during"].received == received  # answered 50 ms later, or only after the next
    # solicitation, 1 s after the first: too late
