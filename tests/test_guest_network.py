"""Guest stacks on a live network: the datapath hook, link-up announcements, ARP timers on the engine, migration."""

from __future__ import annotations

import hashlib
from ipaddress import IPv4Address

import pytest
from scapy.layers.l2 import ARP, Ether

from vswitch.topology.build import build_network
from vswitch.core.errors import TopologyError
from vswitch.guests.stack import GuestStack
from vswitch.guests.migrate import AnnounceParams, migrate, qemu_announce_offsets
from vswitch.scenario.runner import ScenarioRunner
from vswitch.guests.sessions import PingSession
from vswitch.guests.stackdriver import attach_stack, stack_of
from vswitch.topology.loader import load_topology_text
from vswitch.guests.traffic import rarp_announce

from conftest import lab

MS = 1_000_000


def with_stacks(**kwargs):
    net = lab(**kwargs)
    for name, ip in (("h1", "192.0.2.1/24"), ("vm1", "192.0.2.11/24"), ("vm2", "192.0.2.12/24")):
        nic = net.nic(name)
        attach_stack(net, name, GuestStack(nic.full_name, nic.mac, ip))
    return net


def summaries(net, name):
    return [Ether(d.frame).summary() for d in net.deliveries(name)]


def test_stack_answers_through_the_datapath_and_its_frames_are_padded_and_counted():
    net = with_stacks()
    driver = stack_of(net, "vm1")
    session = PingSession("p", "vm1.eth0", "h1", IPv4Address("192.0.2.1"), count=1, ident=1)
    driver.transmit(driver.guest.ping_send(session, 1, net.now))
    net.run()
    assert session.received == 1
    assert summaries(net, "h1") == ["Ether / ARP who has 192.0.2.1 says 192.0.2.11 / Padding",
                                    "Ether / IP / ICMP 192.0.2.11 > 192.0.2.1 echo-request 0 / Raw"]
    assert net.port("vm1").counters.tx_bytes == 60 + 98  # the 42-byte ARP request left padded to 60
    assert net.stats.in_flight == 0


def test_a_nic_without_a_stack_is_untouched():
    net = lab()
    frame = bytes(Ether(src="02:00:00:00:00:01", dst="52:54:00:00:00:01", type=0x88B5)) + bytes(46)
    net.send("h1", frame)
    net.run()
    assert net.stats.injected == 1 and net.stats.delivered == 1


def test_link_coming_up_makes_the_stack_announce_itself():
    net = with_stacks()
    link = net.link("h1")
    net.set_link_state(link, False)
    net.set_link_state(link, True)
    net.run()
    garp = [Ether(d.frame) for d in net.deliveries("vm1") if ARP in Ether(d.frame)]
    assert [(p.src, p[ARP].psrc, p[ARP].pdst) for p in garp] == [("02:00:00:00:00:01", "192.0.2.1", "192.0.2.1")]


def test_interface_up_and_attach_announce_but_migration_does_not():
    net = with_stacks()
    net.set_admin_state("vm2", True)  # already up: nothing
    net.set_admin_state("vm2", False)
    net.set_admin_state("vm2", True)
    net.run()
    assert stack_of(net, "vm2").guest.counters["gratuitous_arp_sent"] == 1
    net.detach_vm("vm2")
    net.attach_vm("vm2", "hv1")
    net.detach_vm("vm2")
    net.attach_vm("vm2", "hv1", link_up=False)
    net.run()
    assert stack_of(net, "vm2").guest.counters["gratuitous_arp_sent"] == 2


def test_arp_retries_run_on_the_engine_and_the_resolution_fails_after_three_seconds():
    net = with_stacks()
    driver = stack_of(net, "h1")
    session = PingSession("p", "h1.eth0", "x", IPv4Address("192.0.2.99"), count=1, ident=1)
    driver.transmit(driver.guest.ping_send(session, 1, net.now))
    net.run()
    requests = [d.time_ns for d in net.deliveries("vm1")]
    assert requests == [1000 * 2, 10**9 + 2000, 2 * 10**9 + 2000]  # h1 -> sw1 -> hv1: two 1 us links
    assert net.now == 3 * 10**9 and session.errors == 1


def test_attaching_a_stack_checks_the_mac():
    net = lab()
    with pytest.raises(TopologyError, match="is not the NIC's"):
        attach_stack(net, "h1", GuestStack("x", "02:00:00:00:00:99", "192.0.2.1/24"))


# -- migration ----------------------------------------------------------------------------------------------
def test_qemu_announce_rounds_follow_qemus_timer():
    assert qemu_announce_offsets() == [0, 50 * MS, 200 * MS, 450 * MS, 800 * MS]
    assert qemu_announce_offsets(AnnounceParams(rounds=8)) == [0, 50 * MS, 200 * MS, 450 * MS, 800 * MS,
                                                               1250 * MS, 1800 * MS, 2350 * MS]  # gaps cap at 550


def test_rarp_announce_is_qemus_frame():
    frame = rarp_announce("52:54:00:12:34:56")
    assert frame.hex() == ("ffffffffffff" "525400123456" "8035" "0001" "0800" "06" "04" "0003" "525400123456"
                           "00000000" "525400123456" "00000000") + "00" * 18
    packet = Ether(frame)  # bound: Scapy dissects 0x8035 as ARP
    assert (packet[ARP].op, packet[ARP].hwsrc, packet[ARP].hwdst) == (3, "52:54:00:12:34:56", "52:54:00:12:34:56")


MIGRATION = """\
name: m
switches: [{name: sw1}]
hosts: [{name: h1, mac: "02:00:00:00:00:01", ip: 192.0.2.1/24}]
hypervisors:
  - {name: hv1, mac: "02:00:00:00:00:aa", vms: [{name: vm1, prefix: PREFIX, ip: 192.0.2.10/24}]}
  - {name: hv2, mac: "02:00:00:00:00:bb", backend: bridge}
links: [[h1, sw1.p1], [hv1, sw1.p2], [hv2, sw1.p3]]
scenario:
  - ping: {from: h1, to: vm1}
  - at: 100ms
    migrate: {vm: vm1, to: hv2, downtime: 10ms}
  - at: 105ms
    expect: {table: {switch: sw1, mac: MAC, port: p2}}
  - at: 111ms
    expect: {table: {switch: sw1, mac: MAC, port: p3}}
  - at: 200ms
    ping: {from: h1, to: vm1}
expect:
  - ping: {name: ping-h1-vm1, loss: 0%}
  - ping: {name: ping-h1-vm1-2, loss: 0%}
  - table: {switch: hv2, mac: MAC, port: vif1.0}
"""


@pytest.mark.parametrize("prefix, mac, announce, frames", [
    ("qemu", "52:54:00:00:00:01", "qemu", 5), ("xen", "00:16:3e:00:00:01", "xen", 1)])
def test_migration_moves_the_mac_with_the_default_announcement(prefix, mac, announce, frames):
    spec = load_topology_text(MIGRATION.replace("PREFIX", prefix).replace("MAC", f'"{mac}"'), "m.yaml")
    net = build_network(spec)
    result = ScenarioRunner(spec, net).run()
    assert result.passed, [c for c in result.checks if not c.passed]
    [move] = result.migrations
    assert (move.announce, len(move.ids), move.detached_ns, move.attached_ns) == (announce, frames, 100 * MS,
                                                                                  110 * MS)
    announcements = [Ether(d.frame) for d in net.deliveries("h1") if d.frame_id in move.ids]
    assert [(p.src, p.type) for p in announcements] == [(mac, 0x8035 if announce == "qemu" else 0x0806)] * frames


def test_migration_errors_at_run_time_name_the_action():
    spec = load_topology_text(MIGRATION.replace("PREFIX", "qemu").replace("MAC", '"52:54:00:00:00:01"')
                              .replace("to: hv2, downtime", "to: hv1, downtime"), "m.yaml")
    with pytest.raises(Exception, match=r"m.yaml:10:5: scenario\[1\]: at 100ms: VM vm1 already runs on hv1"):
        ScenarioRunner(spec, build_network(spec)).run()


def test_frames_sent_during_the_downtime_are_dropped_not_cabled():
    net = with_stacks()
    net.add_hypervisor("hv2", "02:00:00:00:00:bb")
    net.connect("hv2", "sw1")
    move = migrate(net, "vm1", "hv2", name="a", downtime_ns=10 * MS, announce="none")
    net.send("vm1", rarp_announce("52:54:00:00:00:01"), at=5 * MS)
    net.run()
    assert (move.ids, move.attached_ns, net.vnics["vm1"].hypervisor) == ([], 10 * MS, "hv2")
    assert {r.name: n for r, n in net.port("vm1").counters.tx_dropped.items()} == {"NOT_CABLED": 1}


# -- determinism ----------------------------------------------------------------------------------------------
def test_same_file_same_bytes(tmp_path):
    text = MIGRATION.replace("PREFIX", "qemu").replace("MAC", '"52:54:00:00:00:01"') + \
        "captures: {points: [h1, sw1.p3]}\n"
    digests = []
    for run in ("a", "b"):
        spec = load_topology_text(text, "m.yaml")
        net = build_network(spec, capture_dir=tmp_path / run)
        ScenarioRunner(spec, net).run()
        net.close()
        digests.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((tmp_path / run).iterdir())})
    assert digests[0] == digests[1] and len(digests[0]) == 3


def test_scapy_never_asks_this_machine_for_routes_or_mac_addresses(monkeypatch):
    import scapy.layers.l2
    from scapy.config import conf

    def forbidden(*args, **kwargs):
        raise AssertionError("Scapy consulted the host")

    monkeypatch.setattr(conf.route, "route", forbidden)
    monkeypatch.setattr(scapy.layers.l2, "getmacbyip", forbidden)
    extra = """\
  - at: 300ms
    udp: {from: h1, to: vm1, port: 7}
  - udp: {from: h1, to: vm1, port: 5, name: closed}
  - arping: {from: vm1, to: h1}
  - stream: {from: h1, to: vm1, count: 3, udp: {src_ip: 192.0.2.1, dst_ip: 192.0.2.10}, vary: [{field: seq}]}
expect:
"""
    text = MIGRATION.replace("PREFIX", "xen").replace("MAC", '"00:16:3e:00:00:01"').replace("expect:\n", extra)
    spec = load_topology_text(text, "m.yaml")
    result = ScenarioRunner(spec, build_network(spec)).run()
    assert result.passed and len(result.sessions) == 5 and len(result.migrations[0].ids) == 1
