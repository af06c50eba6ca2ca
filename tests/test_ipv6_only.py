"""IPv6-only interfaces (issue 18): a stack with ``ip6`` (or ``link_local: true``) and no ``ip`` speaks IPv6 alone,
every path that assumed IPv4 works or refuses naming the file, line, field and fix."""

from __future__ import annotations

import json
import re
from ipaddress import IPv6Address

import pytest

from vswitch.cli import main
from vswitch.core.errors import ScenarioError, TopologyError
from vswitch.guests.ipv6 import Ipv6Stack
from vswitch.guests.sessions import ArpingSession, PingSession, UdpSession
from vswitch.guests.stack import GuestStack
from vswitch.guests.traffic import ARP_REQUEST, arp_frame, icmp_echo_frame
from vswitch.scenario.runner import ScenarioRunner
from vswitch.scenario.show import render_show
from vswitch.topology.build import build_network
from vswitch.topology.loader import load_topology_text

MAC = "52:54:00:00:00:01"


def ipv6_only() -> GuestStack:
    host = GuestStack("vm1.eth0", MAC, None)
    host.ipv6 = Ipv6Stack(host, ["2001:db8::11/64"], dad_transmits=0)
    return host


def test_an_ipv6_only_stack_answers_no_arp_and_no_ipv4_and_sends_no_gratuitous_arp():
    host = ipv6_only()
    assert (host.ip, host.interface) == (None, None)
    request = arp_frame(op=ARP_REQUEST, src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff",
                        sender_mac="02:00:00:00:00:01", sender_ip="192.0.2.1", target_ip="0.0.0.0")
    echo = icmp_echo_frame("02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff", src_ip="192.0.2.1", dst_ip="255.255.255.255",
                           ident=1, seq=1, payload=b"x")
    assert host.receive(request, 0) == [] and host.receive(echo, 0) == []
    assert host.arp.entries == {} and host.counters["arp_replies_sent"] == 0
    sent = [frame for _delay, frame in host.link_up(0)]
    assert sent and all(frame[12:14] == b"\x86\xdd" for frame in sent)  # MLD only (DAD off): no ARP
    assert all(frame[12:14] == b"\x86\xdd" for _delay, frame in host.announce(0))


@pytest.mark.parametrize("call, what", [
    (lambda h: h.ping_template(PingSession("p", "vm1.eth0", "h1", "192.0.2.1", 1)), "ping"),
    (lambda h: h.udp_template(UdpSession("u", "vm1.eth0", "h1", "192.0.2.1", 1, sport=4000, dport=7)), "udp"),
    (lambda h: h.arping_send(ArpingSession("a", "vm1.eth0", "h1", "192.0.2.1", 1), 1, 0), "arping"),
])
def test_ipv4_calls_on_an_ipv6_only_stack_are_refused_with_the_fix(call, what):
    with pytest.raises(ScenarioError, match=f"vm1.eth0 has no IPv4 address: {what} needs one"):
        call(ipv6_only())


LAB = """\
name: v6only
switches: [{name: sw1}]
hosts:
  - {name: h1, mac: "02:00:00:00:00:01", ip: 192.0.2.1/24, ip6: [2001:db8::1/64]}
  - {name: h2, mac: "02:00:00:00:00:02", ip: 192.0.2.2/24}
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    vms:
      - {name: vm1, mac: "52:54:00:00:00:01", ip6: [2001:db8::11/64]}
      - {name: vm2, mac: "52:54:00:00:00:02", link_local: true}
links: [[h1, sw1], [h2, sw1], [hv1, sw1]]
"""

RUN = LAB + """\
scenario:
  - {at: 1500ms, ping: {from: h1, to: vm1, count: 2, name: by-name}}
  - {at: 1500ms, ping: {from: vm2, to: vm1, count: 2, name: link-local}}
  - {at: 1500ms, udp: {from: vm1, to: h1, port: 7, count: 2}}
  - {at: 4s, pingall: {}}
expect:
  - udp_received: {on: h1, from: vm1, port: 7, count: 2}
  - ndp_entry: {on: vm2, ip: vm1, state: REACHABLE}
"""


def run(text: str):
    spec = load_topology_text(text, "lab.yaml")
    net = build_network(spec)
    return spec, net, ScenarioRunner(spec, net).run()


def test_ipv6_only_vms_are_reached_by_name_over_ipv6_and_by_their_link_local_alone():
    _spec, net, result = run(RUN)
    assert all(check.passed for check in result.checks)
    by_name, link_local = result.sessions["by-name"], result.sessions["link-local"]
    assert (str(by_name.dst_ip), by_name.received) == ("2001:db8::11", 2)  # family ipv6: vm1 has no IPv4
    assert (str(link_local.dst_ip), link_local.received) == ("fe80::5054:ff:fe00:1", 2)
    vm2 = net.nic("vm2").stack.guest
    assert [str(i) for i in vm2.ipv6.interfaces] == ["fe80::5054:ff:fe00:2/64"] and vm2.ip is None
    assert vm2.arp.entries == {} and vm2.counters["arp_requests_received"] >= 1  # h1's and h2's, unanswered


def test_pingall_pings_each_pair_in_the_families_both_ends_have_and_a_pair_sharing_none_is_not_reached():
    _spec, _net, result = run(RUN)
    pingall = result.reachability[0]
    assert set(pingall.sessions) == {("h1", "h2"), ("h2", "h1")}  # IPv4: the two hosts
    assert ("h1", "vm1") in pingall.sessions6 and ("h2", "vm1") not in pingall.sessions6
    assert pingall.cell(("h2", "vm1")) == "X no family" and pingall.cell(("vm1", "vm2")) == "ok"
    assert pingall.reached() == set(pingall.pairs()) - {("h2", "vm1"), ("h2", "vm2"), ("vm1", "h2"), ("vm2", "h2")}
    assert pingall.as_json()["pairs"] == 12


def test_reports_show_an_ipv6_only_interface_without_an_ipv4_address(tmp_path, capsys):
    path = tmp_path / "lab.yaml"
    path.write_text(RUN)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--format", "json"]) == 0
    stacks = {s["interface"]: s for s in json.loads(capsys.readouterr().out)["guests"]["stacks"]}
    assert stacks["vm1.eth0"]["address"] is None and stacks["h1.eth0"]["address"] == "192.0.2.1/24"
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--html"]) == 0
    text = capsys.readouterr().out
    assert "vm1.eth0     - (IPv6 only)" in text and "X no family" in text
    assert "IPv6 only" in (tmp_path / "out" / "report.html").read_text()
    spec = load_topology_text(LAB, "lab.yaml")
    rows = render_show(spec, build_network(spec))
    vm2_row = next(line for line in rows.splitlines() if "vm2.eth0" in line)
    assert "fe80::5054:ff:fe00:2/64" in vm2_row and " - " in vm2_row


@pytest.mark.parametrize("body, message", [
    ("scenario: [{ping: {from: vm1, to: 192.0.2.1}}]",
     "13:26: scenario[0].ping.from: vm1.eth0 has no IPv4 address (it is IPv6-only): it cannot ping 192.0.2.1: give "
     "it one (ip: 192.0.2.10/24), or send to an IPv6 address"),
    ("scenario: [{ping: {from: h1, to: vm1, family: ipv4}}]",
     "13:34: scenario[0].ping.to: vm1.eth0 has no IPv4 address (it is IPv6-only): give it one (ip: 192.0.2.10/24), "
     "or reach it over IPv6 (family: ipv6)"),
    ("scenario: [{udp: {from: h2, to: vm1}}]",
     "13:33: scenario[0].udp.to: vm1.eth0 has no IPv6 address that h2.eth0 reaches: give both ip6"),
    ("scenario: [{arping: {from: vm1, to: h2}}]",
     "13:28: scenario[0].arping.from: vm1.eth0 has no IPv4 address (it is IPv6-only): it cannot arping 192.0.2.2: "
     "give it one (ip: 192.0.2.10/24)"),
    ("scenario: [{arping: {from: h1, to: vm2}}]",
     "13:36: scenario[0].arping.to: vm2.eth0 has no IPv4 address (it is IPv6-only): arping asks ARP, which is "
     "IPv4's: ping it instead (neighbour discovery)"),
    ("expect: [{arp_entry: {on: vm1, ip: h1}}]",
     "13:27: expect[0].arp_entry.on: vm1.eth0 has no IPv4 address (it is IPv6-only), so no ARP cache: check its "
     "IPv6 neighbours with ndp_entry"),
    ("expect: [{arp_entry: {on: h1, ip: vm1}}]",
     "13:35: expect[0].arp_entry.ip: vm1.eth0 has no IPv4 address (it is IPv6-only): arp_entry checks IPv4 "
     "neighbours, ndp_entry IPv6 ones"),
    ("expect: [{arp_entry: {on: h1, ip: '2001:db8::11'}}]",
     "13:35: expect[0].arp_entry.ip: 2001:db8::11 is an IPv6 address: the ARP cache holds IPv4 ones"),
    ("scenario: [{migrate: {vm: vm1, to: hv1, announce: xen, guest_announce: true}}]",
     "13:72: scenario[0].migrate.guest_announce: guest_announce applies to the qemu announcement"),
])
def test_what_needs_ipv4_is_refused_naming_the_place_and_the_fix(body, message):
    with pytest.raises(TopologyError) as error:
        load_topology_text(LAB + body + "\n", "lab.yaml")
    assert f"lab.yaml:{message}" in str(error.value)


@pytest.mark.parametrize("vm, message", [
    ("{name: vm1, arp_notify: false, ip6: []}", "vms[0].arp_notify: arp_notify configures IPv4 (ARP): give the "
                                                "interface an IPv4 address too (ip: 192.0.2.10/24)"),
    ("{name: vm1, link_local: false}", "vms[0].link_local: link_local configures IPv6: turn it on with ip6"),
    ("{name: vm1, dad_transmits: 0}", "vms[0].dad_transmits: dad_transmits configures IPv6: turn it on with ip6"),
])
def test_stack_keys_without_their_family_name_the_key(vm, message):
    text = f"hypervisors: [{{name: hv1, mac: '02:00:00:00:00:aa', vms: [{vm}]}}]\n"
    with pytest.raises(TopologyError, match=re.escape(message)):
        load_topology_text(text, "lab.yaml")


def test_link_local_true_alone_is_ipv6_with_the_link_local_address_alone():
    spec = load_topology_text(LAB, "lab.yaml")
    vm2 = spec.hypervisors[0].vms[1].guest
    assert vm2.interface is None and vm2.ipv6.addresses == () and vm2.ipv6.link_local
    assert (vm2.where.line, vm2.where.path) == (11, "hypervisors[0].vms[1].link_local")
    net = build_network(spec)
    assert net.nic("vm2").stack.guest.ipv6.addresses == [IPv6Address("fe80::5054:ff:fe00:2").packed]
