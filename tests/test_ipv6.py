"""IPv6 guests (issue 18): addresses, DAD, neighbour discovery with Linux's states and timers, MLDv2, echo, UDP,
the announcement after a migration, and the topology keys and checks."""

from __future__ import annotations

from ipaddress import IPv6Address

import pytest

from vswitch.core.errors import TopologyError
from vswitch.guests.inet6 import (ALL_NODES, ICMP6_TYPE, IP6_DST, IP6_SRC, ND_TARGET, UNSPECIFIED, checksum6,
                                  eui64_link_local, multicast_mac, solicited_node)
from vswitch.guests.ipv6 import Ipv6Stack
from vswitch.guests.ndp import DELAY, INCOMPLETE, PROBE, REACHABLE, STALE, NeighbourCache
from vswitch.guests.sessions import PingSession
from vswitch.guests.stack import GuestStack
from vswitch.scenario.runner import ScenarioRunner
from vswitch.topology.build import build_network
from vswitch.topology.loader import load_topology_text

S = 10**9
MAC1, MAC2 = bytes.fromhex("525400123456"), bytes.fromhex("525400abcdef")


def stack(mac: bytes = MAC1, addresses=("2001:db8::1/64",), **kwargs) -> Ipv6Stack:
    host = GuestStack("vm.eth0", mac.hex(":"), "192.0.2.1/24")
    host.ipv6 = Ipv6Stack(host, addresses, **kwargs)
    return host.ipv6


def test_eui64_link_local_solicited_node_group_and_its_mac():
    link_local = eui64_link_local(MAC1)
    assert link_local == IPv6Address("fe80::5054:ff:fe12:3456")  # the universal/local bit flipped, ff:fe inside
    assert IPv6Address(solicited_node(link_local.packed)) == IPv6Address("ff02::1:ff12:3456")
    assert multicast_mac(solicited_node(link_local.packed)).hex(":") == "33:33:ff:12:34:56"


def test_link_up_reports_from_unspecified_then_probes_each_address_and_they_wait_for_dad():
    six = stack()
    frames = [f for _, f in six.link_up(0)]
    assert [(f[ICMP6_TYPE + 8] if f[20] == 0 else f[ICMP6_TYPE], f[IP6_SRC]) for f in frames] == [
        (143, UNSPECIFIED), (135, UNSPECIFIED), (135, UNSPECIFIED)]  # MLDv2 report (after hop-by-hop), 2 DAD NS
    assert [IPv6Address(f[ND_TARGET]) for f in frames[1:]] == [eui64_link_local(MAC1), IPv6Address("2001:db8::1")]
    assert six.usable == set() and six.next_deadline() == S
    assert six.source_for(IPv6Address("2001:db8::2").packed) is None  # tentative: nothing can be sent from it
    done = six.expire(S)
    assert len(done) == 1 and done[0][1][IP6_SRC] == eui64_link_local(MAC1).packed  # the report from fe80::
    assert six.usable == set(six.addresses) and six.next_deadline() is None


def test_dad_fails_on_another_nodes_probe_or_an_advertisement_not_on_our_own_probe_looped_back():
    six = stack()
    probes = [f for _, f in six.link_up(0)][1:]
    six.receive(probes[0], 10)  # our own, handed back (macvlan private): the nonce says so
    assert six.duplicates == set()
    other = stack(MAC2, ("2001:db8::1/64",))
    theirs = [f for _, f in other.link_up(0)][2]  # their probe for 2001:db8::1, with their nonce
    six.receive(theirs, 20)
    assert six.duplicates == {IPv6Address("2001:db8::1").packed} and six.counters["dad_failed"] == 1
    six.expire(S)
    assert IPv6Address("2001:db8::1").packed not in six.usable and eui64_link_local(MAC1).packed in six.usable


def test_neighbour_cache_incomplete_sends_three_multicast_solicitations_then_fails():
    cache = NeighbourCache()
    ip = IPv6Address("2001:db8::2").packed
    mac, solicit = cache.output(ip, "packet", 0)
    assert mac is None and solicit.mac is None and cache.state(ip, 0) == INCOMPLETE
    sent = []
    for t in (S, 2 * S):
        solicits, failed = cache.due(t)
        sent += [(t, s.mac) for s in solicits]
        assert failed == []
    assert sent == [(S, None), (2 * S, None)]  # with the first, three in all, retrans_time apart
    assert cache.due(3 * S) == ([], [(ip, ["packet"])]) and cache.state(ip, 3 * S) is None and cache.failures == 1


def test_neighbour_cache_reachable_stale_delay_probe_failed_as_linux():
    cache = NeighbourCache()
    ip = IPv6Address("fe80::2").packed
    cache.output(ip, "p", 0)
    assert cache.advertised(ip, MAC2, solicited=True, override=True, now=10) == [("p", MAC2)]
    assert cache.state(ip, 10) == REACHABLE and cache.state(ip, 30 * S + 9) == REACHABLE
    assert cache.state(ip, 30 * S + 10) == STALE  # base_reachable_time (30 s) after the confirmation
    assert cache.output(ip, "q", 40 * S) == (MAC2, None) and cache.state(ip, 40 * S) == DELAY
    assert cache.next_deadline() == 45 * S  # delay_first_probe_time
    solicits, _ = cache.due(45 * S)
    assert cache.state(ip, 45 * S) == PROBE and [s.mac for s in solicits] == [MAC2]  # unicast probe
    assert [s.mac for s in cache.due(46 * S)[0]] == [MAC2] and [s.mac for s in cache.due(47 * S)[0]] == [MAC2]
    assert cache.due(48 * S) == ([], [(ip, [])]) and cache.state(ip, 48 * S) is None


def test_probe_answered_is_reachable_and_an_override_advertisement_moves_the_entry():
    cache = NeighbourCache()
    ip = IPv6Address("fe80::2").packed
    cache.solicited_by(ip, MAC2, 0)  # learnt from its solicitation: STALE, never confirmed
    assert cache.state(ip, 0) == STALE
    cache.output(ip, "x", 0)
    cache.due(5 * S)
    assert cache.state(ip, 5 * S) == PROBE
    cache.advertised(ip, MAC2, solicited=True, override=True, now=5 * S + 1)
    assert cache.state(ip, 5 * S + 1) == REACHABLE and cache.next_deadline() is None
    cache.advertised(ip, MAC1, solicited=False, override=False, now=6 * S)  # no override: REACHABLE -> STALE only
    assert (cache.state(ip, 6 * S), cache.entries[ip].mac) == (STALE, MAC2)
    cache.advertised(ip, MAC1, solicited=False, override=True, now=7 * S)  # after a migration: the new MAC
    assert (cache.state(ip, 7 * S), cache.entries[ip].mac) == (STALE, MAC1)


def test_announce_sends_an_unsolicited_override_advertisement_per_usable_address():
    six = stack()
    six.link_up(0)
    six.expire(S)
    frames = [f for _, f in six.announce(2 * S)]
    adverts = frames[:-1]  # in ip -6 addr's order: the global address, then the link-local
    assert [(f[IP6_DST], f[ICMP6_TYPE], f[ICMP6_TYPE + 4], IPv6Address(f[ND_TARGET])) for f in adverts] == [
        (ALL_NODES, 136, 0x20, IPv6Address("2001:db8::1")), (ALL_NODES, 136, 0x20, eui64_link_local(MAC1))]
    assert all(f[IP6_SRC] == f[ND_TARGET] and f[-8:] == b"\x02\x01" + MAC1 for f in adverts)  # target LL option
    assert all(checksum6(f[IP6_SRC], f[IP6_DST], 58, f[54:]) == 0 for f in adverts)
    report = frames[-1]  # then a current-state MLDv2 report (NETDEV_RESEND_IGMP), from the link-local
    assert IPv6Address(report[IP6_SRC]) == eui64_link_local(MAC1) and report[62] == 143 and report[70] == 2


LAB = """
switches: [{name: sw1}]
hosts:
  - {name: h1, mac: "02:00:00:00:00:01", ip: 192.0.2.1/24, ip6: [2001:db8::1/64]}
  - {name: h2, mac: "02:00:00:00:00:02", ip: 192.0.2.2/24, ip6: [2001:db8::2/64], dad_transmits: 0}
  - {name: h3, mac: "02:00:00:00:00:03", ip: 192.0.2.3/24}
links: [[h1, sw1], [h2, sw1], [h3, sw1]]
scenario:
  - {at: 0s, ping: {from: h1, to: h2, family: ipv6, name: too-early}}
  - {at: 1s, ping: {from: h1, to: "2001:db8::2", count: 2, name: v6}}
  - {at: 1s, udp: {from: h2, to: h1, family: ipv6, port: 5555, name: closed}}
  - {at: 1s, udp: {from: h2, to: h1, family: ipv6, port: 7, size: 8, name: echo}}
  - {at: 2s, pingall: {}}
"""


def run(text: str):
    spec = load_topology_text(text, "lab.yaml")
    net = build_network(spec)
    return net, ScenarioRunner(spec, net).run()


def test_a_run_pings_and_sends_udp_over_ipv6_and_pingall_covers_both_families():
    net, result = run(LAB)
    sessions = result.sessions
    assert (sessions["too-early"].received, sessions["too-early"].errors) == (0, 1)  # h1 is still in DAD at 0 s
    assert sessions["v6"].received == 2 and sessions["echo"].received == 1
    h1 = net.nic("h1").stack.guest
    assert h1.counters["port_unreachable6_sent"] == 1 and h1.udp_received[("2001:db8::2", 5555)] == 1
    pingall = result.reachability[0]
    assert set(pingall.sessions6) == {("h1", "h2"), ("h2", "h1")}  # h3 has no IPv6
    assert len(pingall.reached()) == 6 and pingall.cell(("h1", "h2")) == "ok"
    rows = {(r.ip, r.state) for r in h1.ipv6.neighbours.rows(net.now)}
    assert ("2001:db8::2", REACHABLE) in rows


@pytest.mark.parametrize("text, message", [
    ("hosts: [{name: h1, mac: '02:00:00:00:00:01', link_local: false}]",
     "lab.yaml:1:58: hosts[0].link_local: link_local configures IPv6: turn it on with ip6 (a list of addresses, [] "
     "for the link-local alone) or link_local: true"),
    ("hosts: [{name: h1, mac: '02:00:00:00:00:01', ip6: [2001:db8::1/64], arp_notify: false}]",
     "lab.yaml:1:81: hosts[0].arp_notify: arp_notify configures IPv4 (ARP): give the interface an IPv4 address too"),
    ("hosts: [{name: h1, mac: '02:00:00:00:00:01', ip: 192.0.2.1/24, ip6: [2001:db8::1]}]",
     "hosts[0].ip6[0]: '2001:db8::1' has no prefix length: write it as 2001:db8::1/64"),
    ("hosts: [{name: h1, mac: '02:00:00:00:00:01', ip: 192.0.2.1/24, ip6: [ff02::1/64]}]",
     "ff02::1 cannot be a host's address"),
    ("hosts: [{name: h1, mac: '02:00:00:00:00:01', ip: 192.0.2.1/24, ip6: [], link_local: false}]",
     "with link_local off, give ip6 at least one address"),
    ("hosts: [{name: h1, mac: '02:00:00:00:00:01', ip: 192.0.2.1/24, dad_transmits: 2}]",
     "dad_transmits configures IPv6: turn it on with ip6"),
])
def test_bad_ipv6_keys_name_the_place_and_the_fix(text, message):
    with pytest.raises(TopologyError) as error:
        load_topology_text(text, "lab.yaml")
    assert message in str(error.value)


BASE = """
switches: [{name: sw1}]
hosts:
  - {name: h1, mac: "02:00:00:00:00:01", ip: 192.0.2.1/24, ip6: [2001:db8::1/64]}
  - {name: h2, mac: "02:00:00:00:00:02", ip: 192.0.2.2/24}
links: [[h1, sw1], [h2, sw1]]
"""


@pytest.mark.parametrize("step, message", [
    ("ping: {from: h2, to: '2001:db8::1'}", "scenario[0].ping.from: h2.eth0 has no IPv6: give it ip6"),
    ("ping: {from: h1, to: '2001:db9::5'}", "2001:db9::5 is outside h1.eth0's IPv6 prefixes"),
    ("ping: {from: h1, to: '2001:db8::1'}", "2001:db8::1 is h1.eth0's own address"),
    ("ping: {from: h1, to: h2, family: ipv6}", "scenario[0].ping.to: h2.eth0 has no IPv6 address that h1.eth0"),
    ("ping: {from: h1, to: '192.0.2.2', family: ipv6}", "to is an ipv4 address: leave family out"),
    ("arping: {from: h1, to: 'fe80::1'}", "arping asks ARP, which is IPv4's"),
    ("ping: {from: h1, to: 'fe80::2', size: 1460}", "at most 1452 bytes of data"),
])
def test_ipv6_sessions_are_checked_before_the_run(step, message):
    with pytest.raises(TopologyError) as error:
        load_topology_text(BASE + f"scenario:\n  - at: 1s\n    {step}\n", "lab.yaml")
    assert message in str(error.value)


def test_ndp_entry_on_an_interface_without_ipv6_is_refused():
    with pytest.raises(TopologyError, match=r"expect\[0\].ndp_entry.on: h2.eth0 has no IPv6"):
        load_topology_text(BASE + "expect:\n  - ndp_entry: {on: h2, ip: h1}\n", "lab.yaml")


def test_groups_joined_at_run_time_count_in_the_adapters_filter_at_once():
    """The filter's entries include joined groups: a join that overflows it turns on accept-all at that moment."""
    _, result = run("""
switches: [{name: sw1}]
hosts: [{name: h1, mac: "02:00:00:00:00:01"}]
hypervisors:
  - {name: hv1, mac: "02:00:00:00:00:aa", mac_filter_size: 3, vms: [{name: vm1, mac: "52:54:00:00:00:01"}]}
links: [[h1, sw1], [hv1, sw1]]
scenario:
  - {at: 0s, send: {from: h1, dst: "02:00:00:00:00:99", name: before}}
  - {at: 1ms, interface: {name: vm1, join: ["33:33:ff:00:00:01", "33:33:ff:00:00:02"]}}
  - {at: 2ms, send: {from: h1, dst: "02:00:00:00:00:99", name: after}}
expect:
  - dropped: {frame: before, at: hv1.uplink, reason: not_for_us}
  - dropped: {frame: after, at: hv1.host, reason: not_for_us}
  - adapter: {hypervisor: hv1, filter: overflow, entries: 4}
""")
    assert [(c.description, c.passed) for c in result.checks if not c.passed] == []
