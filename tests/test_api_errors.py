"""The error contract: a user's mistake at a public entry point is one ``VSwitchError`` leaf, the same in both builds.

CI runs this file on the compiled install (``pytest``) and on the source tree (``python -m pytest``). Before the
entry points took ``object`` and checked it (``vswitch/core/checks.py``), the compiled modules rejected a wrong
type with mypyc's bare ``TypeError`` while the pure build raised ours, or accepted it (``send(at=1.5)`` then failed
in the pcap writer). Each case names the exact leaf class (not a parent), and part of the message: it must say
what was wrong.
"""

from __future__ import annotations

import ast
import re
from ipaddress import IPv4Address

import pytest
from scapy.layers.inet import IP, UDP

from conftest import SOURCE, lab
from vswitch import (
    NIC, VNIC, AddressError, ArpingSession, CaptureError, CaptureReader, ForwardingTable, GuestStack, Hypervisor,
    LearningSwitch, MACAddress, MACAllocator, Network, PhysicalAdapter, PingSession, ScenarioError, ScenarioRunner,
    TablePolicy, TopologyError, UdpSession, VSwitchError, attach_stack, build_network, load_topology,
    load_topology_text,
)
from vswitch.bench.runner import run_bench
from vswitch.core import errors
from vswitch.l2.portsecurity import PortSecurity
from vswitch.l2.sriov import VFControls
from vswitch.l2.vlan import PortVlans
from vswitch.pcap.reader import CaptureFileError
from vswitch.topology.diagnostics import TopologyFileError

ROOT = SOURCE.parent
FRAME = bytes.fromhex("02000000aa01" "020000000001" "88b5") + bytes(46)
MAC = "02:00:00:00:00:01"
SPEC = "switches: [{name: sw1}]\nhosts: [{name: h1, mac: '02:00:00:00:00:01'}]\nlinks: [[h1, sw1]]\n"


def net():
    """The standard lab (h1, hv1 with vm1 and vm2, sw1) plus a host-bridge hypervisor hvb and a spare host h2."""
    built = lab()
    built.add_hypervisor("hvb", "02:00:00:00:00:bb", backend="bridge")
    built.add_host("h2", "02:00:00:00:00:02")
    return built


def switch():
    built = LearningSwitch("sw")
    built.add_port("p1")
    return built


def adapter():
    return PhysicalAdapter("ad", "02:00:00:00:00:aa")


def stack():
    return GuestStack("g", MAC, "192.0.2.1/24")


def vnic():
    return VNIC("v", "52:54:00:00:00:09")


def detached():
    built = net()
    built.detach_vm("vm1")
    return built


def spec():
    return load_topology_text(SPEC)


def run_stream(items):
    built = net()
    built.send_stream(items)
    built.run()


# (call, the exact leaf, a part of the message)
CASES = {
    # -- Network: building ----------------------------------------------------------------------------------
    "Network(record='yes')": (lambda: Network(record="yes"), TopologyError, "record must be True or False"),
    "Network(trace_limit='x')": (lambda: Network(trace_limit="x"), TopologyError, "trace_limit must be an int"),
    "Network(trace_limit=-1)": (lambda: Network(trace_limit=-1), TopologyError, "trace_limit must be >= 0"),
    "Network(epoch_ns=1.5)": (lambda: Network(epoch_ns=1.5), TopologyError, "epoch_ns must be an int, not float"),
    "Network(capture_dir=5)": (lambda: Network(capture_dir=5), TopologyError, "capture_dir must be a path"),
    "add_switch(5)": (lambda: net().add_switch(5), TopologyError, "invalid name 5"),
    "add_switch(ports='2')": (lambda: net().add_switch("s", ports="2"), TopologyError, "ports must be an int"),
    "add_switch(ageing_ns=1.5)": (lambda: net().add_switch("s", ageing_ns=1.5), TopologyError,
                                  "ageing must be an int of nanoseconds, not float 1.5"),
    "add_switch(ageing_ns='300s')": (lambda: net().add_switch("s", ageing_ns="300s"), TopologyError,
                                     "ageing must be an int of nanoseconds, not str"),
    "add_switch(ageing_ns=-1)": (lambda: net().add_switch("s", ageing_ns=-1), TopologyError, "ageing must be >= 0"),
    "add_switch(table_limit='x')": (lambda: net().add_switch("s", table_limit="x"), TopologyError,
                                    "table limit must be an int or None"),
    "add_switch(table_limit=-1)": (lambda: net().add_switch("s", table_limit=-1), TopologyError,
                                   "table limit must be >= 0"),
    "add_switch(table_policy='bogus')": (lambda: net().add_switch("s", table_policy="bogus"), TopologyError,
                                         "table policy 'bogus': choose refuse or evict"),
    "add_switch(table_policy=5)": (lambda: net().add_switch("s", table_policy=5), TopologyError, "table policy 5"),
    "add_switch(vlan_filtering='yes')": (lambda: net().add_switch("s", vlan_filtering="yes"), TopologyError,
                                         "vlan_filtering must be True or False"),
    "add_switch(vlan_protocol=None)": (lambda: net().add_switch("s", vlan_protocol=None), TopologyError,
                                       "unknown VLAN protocol None"),
    "add_switch(storm_limit=0)": (lambda: net().add_switch("s", storm_limit=0), TopologyError,
                                  "storm limit must be an integer of at least 1, got 0"),
    "add_switch(storm_limit=True)": (lambda: net().add_switch("s", storm_limit=True), TopologyError, "got True"),
    "add_switch(storm_limit='16')": (lambda: net().add_switch("s", storm_limit="16"), TopologyError, "got '16'"),
    "add_host(None)": (lambda: net().add_host(None), TopologyError, "invalid name None"),
    "add_host(mac=1.5)": (lambda: net().add_host("h3", 1.5), TopologyError, "cannot make a MAC address from float"),
    "add_host(ifname=5)": (lambda: net().add_host("h3", ifname=5), TopologyError, "invalid ifname 5"),
    "add_nic(5)": (lambda: net().add_nic(5), TopologyError, "no host named 5"),
    "add_nic(ifname=None)": (lambda: net().add_nic("h1", ifname=None), TopologyError, "invalid ifname None"),
    "add_hypervisor(backend='x')": (lambda: net().add_hypervisor("hv9", backend="x"), TopologyError,
                                    "unknown backend 'x'"),
    "add_hypervisor(mode=None)": (lambda: net().add_hypervisor("hv9", mode=None), TopologyError,
                                  "unknown mode None"),
    "add_hypervisor(mac_filter_size='4')": (lambda: net().add_hypervisor("hv9", mac_filter_size="4"),
                                            TopologyError, "mac_filter_size must be at least 1, got '4'"),
    "add_hypervisor(mac_filter_size=1.5)": (lambda: net().add_hypervisor("hv9", mac_filter_size=1.5),
                                            TopologyError, "mac_filter_size must be at least 1, got 1.5"),
    "add_hypervisor(vlan_filtering='yes')": (lambda: net().add_hypervisor("hv9", backend="bridge",
                                                                          vlan_filtering="yes"),
                                             TopologyError, "vlan_filtering must be True or False"),
    "add_vm(hypervisor=5)": (lambda: net().add_vm(5, "v"), TopologyError, "no hypervisor named 5"),
    "add_vm(name=5)": (lambda: net().add_vm("hv1", 5), TopologyError, "invalid name 5"),
    "add_vm(prefix=5)": (lambda: net().add_vm("hv1", "v", prefix=5), AddressError, "a MAC prefix is a str"),
    "add_vm(prefix='bogus')": (lambda: net().add_vm("hv1", "v", prefix="bogus"), AddressError,
                               "invalid MAC prefix 'bogus'"),
    "add_vm(mode=5)": (lambda: net().add_vm("hv1", "v", mode=5), TopologyError, "mode must be a str, not int 5"),
    "add_vm(mode='x')": (lambda: net().add_vm("hv1", "v", mode="x"), TopologyError, "unknown mode 'x'"),
    "add_vm(ifname=5)": (lambda: net().add_vm("hv1", "v", ifname=5), TopologyError, "invalid ifname 5"),
    "add_vm(vf={...})": (lambda: net().add_vm("hv1", "v", vf={"vlan": 10}), TopologyError,
                         "vf must be a VFControls, not dict"),
    "connect(5, 'sw1')": (lambda: net().connect(5, "sw1"), TopologyError, "must be a str, not int 5"),
    "connect(latency_ns=1.5)": (lambda: net().connect("h2", "sw1", latency_ns=1.5), TopologyError,
                                "latency \\(ns\\) and bandwidth \\(bit/s\\) must be integers"),
    "connect(latency_ns=True)": (lambda: net().connect("h2", "sw1", latency_ns=True), TopologyError,
                                 "must be integers"),
    "connect(bandwidth_bps='1G')": (lambda: net().connect("h2", "sw1", bandwidth_bps="1G"), TopologyError,
                                    "must be integers"),
    "connect(queue_frames=1.5)": (lambda: net().connect("h2", "sw1", queue_frames=1.5), TopologyError,
                                  "queue must be an integer number of frames, not 1.5"),
    "connect(queue_frames=True)": (lambda: net().connect("h2", "sw1", queue_frames=True), TopologyError,
                                   "queue must be an integer number of frames, not True"),
    "register_port('x')": (lambda: net().register_port("x"), TopologyError, "port must be a Port"),
    # -- Network: lookups ---------------------------------------------------------------------------------------
    "port(5)": (lambda: net().port(5), TopologyError, "no interface or port named 5: a name is a str"),
    "port(None)": (lambda: net().port(None), TopologyError, "no interface or port named None"),
    "nic(5)": (lambda: net().nic(5), TopologyError, "no interface or port named 5"),
    "switch(['sw1'])": (lambda: net().switch(["sw1"]), TopologyError, "no switch named \\['sw1'\\]"),
    "link(5)": (lambda: net().link(5), TopologyError, "no interface or port named 5"),
    "link('h1', 5)": (lambda: net().link("h1", 5), TopologyError, "no interface or port named 5"),
    "deliveries(5)": (lambda: net().deliveries(5), TopologyError, "no interface or port named 5"),
    # -- Network: changes at run time ---------------------------------------------------------------------------
    "set_link_state('h1', False)": (lambda: net().set_link_state("h1", False), TopologyError,
                                    "link .* must be a Link, not str"),
    "set_link_state(link, 'no')": (lambda: (lambda n: n.set_link_state(n.link("h1"), "no"))(net()), TopologyError,
                                   "up must be True or False, not str"),
    "set_admin_state('h1', 0)": (lambda: net().set_admin_state("h1", 0), TopologyError,
                                 "up must be True or False, not int 0"),
    "set_rx_mode(promiscuous='yes')": (lambda: net().set_rx_mode("h1", promiscuous="yes"), TopologyError,
                                       "promiscuous must be True or False"),
    "set_vf(bogus=1)": (lambda: net().set_vf("vm1", bogus=1), TopologyError, "unknown setting\\(s\\) \\['bogus'\\]"),
    "set_vf(5)": (lambda: net().set_vf(5, vlan=10), TopologyError, "no VM named 5"),
    "set_vf(vlan='10')": (lambda: net().set_vf("vm1", vlan="10"), TopologyError, "a VLAN ID is 1 to 4094"),
    "set_vf(state=5)": (lambda: net().set_vf("vm1", state=5), TopologyError, "state 5: choose auto"),
    "set_vf(max_tx_rate_mbps=1.5)": (lambda: net().set_vf("vm1", max_tx_rate_mbps=1.5), TopologyError,
                                     "max_tx_rate 1.5"),
    "set_vf(spoofchk='yes')": (lambda: net().set_vf("vm1", spoofchk="yes"), TopologyError,
                               "spoofchk must be True or False"),
    "set_vf(trust='yes')": (lambda: net().set_vf("vm1", trust="yes"), TopologyError, "trust must be True or False"),
    "detach_vm(5)": (lambda: net().detach_vm(5), TopologyError, "no attached VM named 5"),
    "attach_vm(5, 'hv1')": (lambda: net().attach_vm(5, "hv1"), TopologyError, "no VM named 5"),
    "attach_vm(mode=5)": (lambda: detached().attach_vm("vm1", "hv1", mode=5), TopologyError,
                          "mode must be a str"),
    "attach_vm(link_up='x')": (lambda: detached().attach_vm("vm1", "hv1", link_up="x"), TopologyError,
                               "link_up must be True or False"),
    # -- Network: traffic and time ------------------------------------------------------------------------------
    "send(at=1.5)": (lambda: net().send("h1", FRAME, at=1.5), ScenarioError,
                     "send: at must be an int of nanoseconds, not float 1.5"),
    "send(at='5')": (lambda: net().send("h1", FRAME, at="5"), ScenarioError, "not str '5'"),
    "send(at=True)": (lambda: net().send("h1", FRAME, at=True), ScenarioError, "not bool True"),
    "send(at=-1)": (lambda: net().send("h1", FRAME, at=-1), ScenarioError, "at must be >= 0 ns"),
    "send(5, frame)": (lambda: net().send(5, FRAME), TopologyError, "no interface or port named 5"),
    "send('h1', 'text')": (lambda: net().send("h1", "ff" * 30), ScenarioError, "a frame must be bytes or a Scapy packet, got str"),
    "inject(at=1.5)": (lambda: net().inject("sw1.p1", FRAME, at=1.5), ScenarioError, "inject: at must be an int"),
    "send('h1', IP())": (lambda: net().send("h1", IP(dst="192.0.2.2")), ScenarioError,
                         "this Scapy packet starts with IP: put an Ether"),
    "inject('sw1.p1', UDP())": (lambda: net().inject("sw1.p1", UDP()), ScenarioError, "starts with UDP"),
    "send_series('h1', IP())": (lambda: net().send_series("h1", IP(), 2), ScenarioError, "starts with IP"),
    "deliveries(scapy='yes')": (lambda: net().deliveries("h1", scapy="yes"), ScenarioError,
                                "deliveries: scapy must be True or False"),
    "send_stream(5)": (lambda: net().send_stream(5), ScenarioError, "items must be an iterable"),
    "send_stream: time 1.5": (lambda: net().send_stream([(1.5, "h1", FRAME)]), ScenarioError,
                              "time_ns must be an int of nanoseconds, not float 1.5"),
    "send_stream: time True": (lambda: net().send_stream([(True, "h1", FRAME)]), ScenarioError, "not bool True"),
    "send_stream: name 5": (lambda: net().send_stream([(0, 5, FRAME)]), TopologyError,
                            "interface must be a str, not int 5"),
    "send_stream: frame 'x'": (lambda: net().send_stream([(0, "h1", "x")]), ScenarioError,
                               "a frame must be bytes or a Scapy packet, got str"),
    "send_stream: an IP packet": (lambda: run_stream([(0, "h1", IP())]), ScenarioError, "starts with IP"),
    "send_stream: a pair": (lambda: net().send_stream([(0, "h1")]), ScenarioError,
                            "an item is \\(time_ns, interface, frame\\)"),
    "send_stream: in the past": (lambda: net().send_stream([(-1, "h1", FRAME)]), ScenarioError,
                                 "cannot schedule at -1 ns: the clock is already at 0 ns"),
    "run(until=1.5)": (lambda: net().run(until=1.5), ScenarioError, "run: until must be an int of nanoseconds"),
    "run(until='1s')": (lambda: net().run(until="1s"), ScenarioError, "not str '1s'"),
    # -- Network: captures ---------------------------------------------------------------------------------------
    "capture('h1', 5)": (lambda: net().capture("h1", 5), CaptureError, "file_name must be a path"),
    "capture(direction='x')": (lambda: net().capture("h1", "a.pcap", "x"), CaptureError,
                               "direction 'x': choose one of rx, tx, both"),
    "capture(direction=None)": (lambda: net().capture("h1", "a.pcap", None), CaptureError, "direction None"),
    "capture('../a.pcap')": (lambda: net().capture("h1", "../a.pcap"), CaptureError, "would be written outside"),
    "capture_pcapng(5)": (lambda: net().capture_pcapng(5), CaptureError, "file_name must be a path"),
    "capture_pcapng(points=5)": (lambda: net().capture_pcapng("a.pcapng", 5), CaptureError,
                                 "points must be \\(interface, direction\\) pairs"),
    "capture_pcapng(points=[5])": (lambda: net().capture_pcapng("a.pcapng", [5]), CaptureError,
                                   "each point is an \\(interface, direction\\) pair"),
    "capture_pcapng(bad direction)": (lambda: net().capture_pcapng("a.pcapng", [("h1", "x")]), CaptureError,
                                      "direction 'x'"),
    # -- LearningSwitch --------------------------------------------------------------------------------------------
    "LearningSwitch(5)": (lambda: LearningSwitch(5), TopologyError, "name must be a str"),
    "LearningSwitch(ageing_ns=1.5)": (lambda: LearningSwitch("s", ageing_ns=1.5), TopologyError,
                                      "ageing must be an int of nanoseconds"),
    "LearningSwitch(table_policy='bogus')": (lambda: LearningSwitch("s", table_policy="bogus"), TopologyError,
                                             "table policy 'bogus'"),
    "LearningSwitch(storm_limit=0)": (lambda: LearningSwitch("s", storm_limit=0), TopologyError,
                                      "storm limit must be an integer of at least 1"),
    "add_port(5)": (lambda: switch().add_port(5), TopologyError, "port name must be a str"),
    "add_port(hairpin='x')": (lambda: switch().add_port("p2", hairpin="x"), TopologyError,
                              "hairpin must be True or False"),
    "add_port(bogus=True)": (lambda: switch().add_port("p2", bogus=True), TopologyError, "unknown port flag"),
    "port(5) of a switch": (lambda: switch().port(5), TopologyError, "switch sw has no port 5"),
    "remove_port('p9')": (lambda: switch().remove_port("p9"), TopologyError, "switch sw has no port 'p9'"),
    "set_flag(p1, 5, True)": (lambda: switch().set_flag("p1", 5, True), TopologyError, "unknown port flag 5"),
    "set_flag(p1, hairpin, 1)": (lambda: switch().set_flag("p1", "hairpin", 1), TopologyError,
                                 "hairpin must be True or False, not int 1"),
    "set_vlans(p1, 'x')": (lambda: switch().set_vlans("p1", "x"), TopologyError, "vlans must be a PortVlans"),
    "add_static('x', p1)": (lambda: switch().add_static("x", "p1"), AddressError, "invalid MAC address 'x'"),
    "add_static(mac, p1, vlan='1')": (lambda: switch().add_static(MAC, "p1", "1"), TopologyError,
                                      "vlan must be an int, not str '1'"),
    "set_security(p1, 'x')": (lambda: switch().set_security("p1", "x"), TopologyError,
                              "security must be a PortSecurity"),
    "shut_down(5)": (lambda: switch().shut_down(5), TopologyError, "has no port 5"),
    "reopen(5)": (lambda: switch().reopen(5), TopologyError, "has no port 5"),
    # -- PhysicalAdapter, Hypervisor ------------------------------------------------------------------------------
    "PhysicalAdapter(5, mac)": (lambda: PhysicalAdapter(5, MAC), TopologyError, "name must be a str"),
    "PhysicalAdapter(mode='x')": (lambda: PhysicalAdapter("a", MAC, "x"), TopologyError, "unknown mode 'x'"),
    "PhysicalAdapter(mac=None)": (lambda: PhysicalAdapter("a", None), AddressError,
                                  "cannot make a MAC address from NoneType"),
    "PhysicalAdapter(mac_filter_size='4')": (lambda: PhysicalAdapter("a", MAC, mac_filter_size="4"), TopologyError,
                                             "mac_filter_size must be at least 1"),
    "adapter.attach('x')": (lambda: adapter().attach("x"), TopologyError, "vnic must be a VNIC, not str"),
    "adapter.attach(vnic, mode=5)": (lambda: adapter().attach(vnic(), 5), TopologyError, "unknown mode 5"),
    "adapter.detach('x')": (lambda: adapter().detach("x"), TopologyError, "vnic must be a VNIC"),
    "adapter.refresh(detached vnic)": (lambda: adapter().refresh(vnic()), TopologyError,
                                       "not a vNIC attached to it"),
    "Hypervisor(backend='x')": (lambda: Hypervisor("h", MAC, backend="x"), TopologyError, "unknown backend 'x'"),
    "Hypervisor(bridge_ageing_ns='x')": (lambda: Hypervisor("h", MAC, backend="bridge", bridge_ageing_ns="x"),
                                         TopologyError, "ageing must be an int of nanoseconds"),
    "Hypervisor(vlan_filtering=1)": (lambda: Hypervisor("h", MAC, backend="bridge", vlan_filtering=1),
                                     TopologyError, "vlan_filtering must be True or False"),
    "hypervisor.attach('x')": (lambda: Hypervisor("h", MAC).attach("x"), TopologyError, "vnic must be a VNIC"),
    "hypervisor.detach('x')": (lambda: Hypervisor("h", MAC).detach("x"), TopologyError, "vnic must be a VNIC"),
    # -- NIC, VNIC ----------------------------------------------------------------------------------------------------
    "NIC(5, mac)": (lambda: NIC(5, MAC), TopologyError, "host must be a str"),
    "NIC(mac=1.5)": (lambda: NIC("h", 1.5), AddressError, "cannot make a MAC address from float 1.5"),
    "NIC(ifname=5)": (lambda: NIC("h", MAC, 5), TopologyError, "ifname must be a str"),
    "NIC(mtu='x')": (lambda: NIC("h", MAC, mtu="x"), TopologyError, "mtu must be an int"),
    "NIC(mtu=-1)": (lambda: NIC("h", MAC, mtu=-1), TopologyError, "mtu must be >= 0"),
    "nic.join(unicast)": (lambda: NIC("h", MAC).join("02:00:00:00:00:05"), AddressError,
                          "02:00:00:00:00:05 is not a multicast address"),
    "nic.join(1.5)": (lambda: NIC("h", MAC).join(1.5), AddressError, "cannot make a MAC address"),
    "nic.set_mac('x')": (lambda: NIC("h", MAC).set_mac("x"), AddressError, "invalid MAC address 'x'"),
    "VNIC(vf='x')": (lambda: VNIC("v", MAC, vf="x"), TopologyError, "vf must be a VFControls"),
    "VNIC(mtu=1.5)": (lambda: VNIC("v", MAC, mtu=1.5), TopologyError, "mtu must be an int, not float"),
    "VFControls(spoofchk='on')": (lambda: VFControls(spoofchk="on"), TopologyError, "spoofchk must be True or False"),
    # -- ForwardingTable, TablePolicy ------------------------------------------------------------------------------
    "ForwardingTable('x')": (lambda: ForwardingTable("x"), TopologyError, "ageing must be an int of nanoseconds"),
    "ForwardingTable(-1)": (lambda: ForwardingTable(-1), TopologyError, "ageing must be >= 0 ns, got -1"),
    "ForwardingTable(limit='x')": (lambda: ForwardingTable(limit="x"), TopologyError, "table limit must be an int"),
    "ForwardingTable(policy='bogus')": (lambda: ForwardingTable(policy="bogus"), TopologyError, "table policy"),
    "TablePolicy('bogus')": (lambda: TablePolicy("bogus"), TopologyError, "table policy 'bogus'"),
    "table.add_static(1, 'x', 'p1')": (lambda: ForwardingTable().add_static(1, "x", "p1"), AddressError,
                                       "invalid MAC address"),
    "table.add_static('1', mac, 'p1')": (lambda: ForwardingTable().add_static("1", MAC, "p1"), TopologyError,
                                         "vlan must be an int"),
    "table.add_static(1, mac, 5)": (lambda: ForwardingTable().add_static(1, MAC, 5), TopologyError,
                                    "port must be a str"),
    "table.remove(1, 'x')": (lambda: ForwardingTable().remove(1, "x"), AddressError, "invalid MAC address"),
    "table.flush_port(5)": (lambda: ForwardingTable().flush_port(5), TopologyError, "port must be a str"),
    "table.rows('x')": (lambda: ForwardingTable().rows("x"), ScenarioError, "now must be an int of nanoseconds"),
    # -- MACAddress, MACAllocator ----------------------------------------------------------------------------------
    "MACAddress(1.5)": (lambda: MACAddress(1.5), AddressError, "cannot make a MAC address from float 1.5"),
    "MACAddress(True)": (lambda: MACAddress(True), AddressError, "from bool True"),
    "MACAddress('zz')": (lambda: MACAddress("zz"), AddressError, "invalid MAC address 'zz'"),
    "MACAllocator.allocate(5)": (lambda: MACAllocator().allocate(5), AddressError, "a MAC prefix is a str"),
    "MACAllocator.reserve(None)": (lambda: MACAllocator().reserve(None), AddressError, "from NoneType"),
    "MACAllocator.avoid(5)": (lambda: MACAllocator().avoid(5), AddressError, "iterable of MAC addresses"),
    # -- GuestStack, sessions, attach_stack ----------------------------------------------------------------------
    "GuestStack(5, ...)": (lambda: GuestStack(5, MAC, "192.0.2.1/24"), TopologyError, "name must be a str"),
    "GuestStack(interface='bogus')": (lambda: GuestStack("g", MAC, "bogus"), AddressError,
                                      "invalid IPv4 interface 'bogus'"),
    "GuestStack(interface=5)": (lambda: GuestStack("g", MAC, 5), AddressError, "an IPv4 address with its prefix"),
    "GuestStack(arp_timeout_ns=0)": (lambda: GuestStack("g", MAC, "192.0.2.1/24", arp_timeout_ns=0), TopologyError,
                                     "arp_timeout_ns must be >= 1"),
    "GuestStack(arp_timeout_ns=1.5)": (lambda: GuestStack("g", MAC, "192.0.2.1/24", arp_timeout_ns=1.5),
                                       TopologyError, "arp_timeout_ns must be an int"),
    "GuestStack(arp_notify='x')": (lambda: GuestStack("g", MAC, "192.0.2.1/24", arp_notify="x"), TopologyError,
                                   "arp_notify must be True or False"),
    "GuestStack(ttl=300)": (lambda: GuestStack("g", MAC, "192.0.2.1/24", ttl=300), TopologyError,
                            "ttl must be <= 255"),
    "stack.ping_send('x', 1, 0)": (lambda: stack().ping_send("x", 1, 0), ScenarioError, "takes a PingSession"),
    "stack.udp_send(ping, ...)": (lambda: stack().udp_send(PingSession("p", "g", "h", IPv4Address("192.0.2.2"), 1),
                                                           1, 0, FRAME), ScenarioError, "takes a UdpSession"),
    "PingSession(count='3')": (lambda: PingSession("p", "g", "h", IPv4Address("192.0.2.2"), "3"), ScenarioError,
                               "count must be an int"),
    "PingSession(ident=70000)": (lambda: PingSession("p", "g", "h", IPv4Address("192.0.2.2"), 1, ident=70000),
                                 ScenarioError, "ident must be <= 65535"),
    "ArpingSession(dst_ip='x')": (lambda: ArpingSession("a", "g", "h", "x", 1), AddressError,
                                  "invalid IPv4 address 'x'"),
    "UdpSession(dport='7')": (lambda: UdpSession("u", "g", "h", IPv4Address("192.0.2.2"), 1, dport="7"),
                              ScenarioError, "dport must be an int"),
    "attach_stack('x', 'h1', stack)": (lambda: attach_stack("x", "h1", stack()), TopologyError,
                                       "net must be a Network"),
    "attach_stack(net, 'h1', 'x')": (lambda: attach_stack(net(), "h1", "x"), TopologyError,
                                     "guest must be a GuestStack"),
    "attach_stack(net, 5, stack)": (lambda: attach_stack(net(), 5, stack()), TopologyError,
                                    "no interface or port named 5"),
    "attach_stack(stack without an address)": (lambda: attach_stack(net(), "h1", GuestStack("g", MAC, None)),
                                               TopologyError, "h1.eth0: the stack has no address"),
    # -- files, building, running ------------------------------------------------------------------------------
    "CaptureReader(None)": (lambda: CaptureReader(None), CaptureFileError, "path is a str or pathlib.Path"),
    "CaptureReader(missing)": (lambda: CaptureReader("/nonexistent/x.pcap"), CaptureFileError, "cannot open"),
    "load_topology(None)": (lambda: load_topology(None), TopologyError, "path must be a path"),
    "load_topology(missing)": (lambda: load_topology("/nonexistent/x.yaml"), TopologyFileError, "cannot read"),
    "load_topology(limits='x')": (lambda: load_topology("/nonexistent/x.yaml", "x"), TopologyError,
                                  "limits must be a Limits"),
    "load_topology_text(None)": (lambda: load_topology_text(None), TopologyError, "text must be a str"),
    "load_topology_text(filename=5)": (lambda: load_topology_text(SPEC, 5), TopologyError,
                                       "filename must be a str"),
    "build_network('x')": (lambda: build_network("x"), TopologyError, "spec .* must be a TopologySpec"),
    "build_network(capture_dir=5)": (lambda: build_network(spec(), capture_dir=5), TopologyError,
                                     "capture_dir must be a path"),
    "build_network(record='x')": (lambda: build_network(spec(), record="x"), TopologyError,
                                  "record must be True or False"),
    "ScenarioRunner('x', net)": (lambda: ScenarioRunner("x", Network()), ScenarioError,
                                 "spec .* must be a TopologySpec"),
    "ScenarioRunner(spec, 'x')": (lambda: ScenarioRunner(spec(), "x"), ScenarioError, "net .* must be a Network"),
    "ScenarioRunner.run(until_ns=1.5)": (lambda: ScenarioRunner(spec(), build_network(spec())).run(until_ns=1.5),
                                         ScenarioError, "until_ns must be an int of nanoseconds"),
    "ScenarioRunner.run(progress='x')": (lambda: ScenarioRunner(spec(), build_network(spec())).run(progress="x"),
                                         ScenarioError, "progress must be a function"),
    "run_bench('lan9')": (lambda: run_bench("lan9", 10, "."), ScenarioError, "unknown workload 'lan9'"),
    "run_bench(5)": (lambda: run_bench(5, 10, "."), ScenarioError, "workload must be a str"),
    "run_bench(frames='x')": (lambda: run_bench("lan8", "x", "."), ScenarioError, "frames must be an int"),
    "run_bench(frames=0)": (lambda: run_bench("lan8", 0, "."), ScenarioError, "frames must be >= 1"),
    "run_bench(out_dir=5)": (lambda: run_bench("lan8", 10, 5), ScenarioError, "out_dir must be a path"),
    "PortSecurity('x')": (lambda: PortSecurity("x"), TopologyError, "max_macs must be an integer"),
    "PortVlans('x')": (lambda: PortVlans("x"), TopologyError, "a VLAN ID is 1 to 4094"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_wrong_argument_is_one_leaf_with_a_helpful_message(name, tmp_path, monkeypatch):
    call, leaf, message = CASES[name]
    monkeypatch.chdir(tmp_path)  # captures, bench folders
    with pytest.raises(VSwitchError) as caught:
        call()
    assert type(caught.value) is leaf, f"{name}: {type(caught.value).__name__}: {caught.value}"
    assert re.search(message, str(caught.value)), str(caught.value)


def test_a_stream_item_is_checked_when_pulled_and_bytes_like_frames_are_accepted():
    built = net()
    built.send_stream([(0, "h1", bytearray(FRAME)), (10, "h1", memoryview(FRAME)), (20, "h1", FRAME)])
    built.run()
    assert built.port("h1").counters.tx_packets == 3
    later = built.now + 10
    built.send_stream([(later, "h1", FRAME), (later + 10, "h1", 4.5)])  # the first is sent, the second refused
    with pytest.raises(ScenarioError, match="a frame must be bytes or a Scapy packet, got float"):
        built.run()


def test_enum_and_leaf_errors_stay_catchable_as_before():
    """Leaves subclass the root, and AddressError is still a ValueError (the YAML readers catch ValueError)."""
    assert all(issubclass(leaf, VSwitchError) for leaf in (TopologyError, ScenarioError, AddressError, CaptureError,
                                                           TopologyFileError, CaptureFileError))
    assert issubclass(AddressError, ValueError) and issubclass(CaptureFileError, CaptureError)
    assert TablePolicy("evict") is TablePolicy.EVICT


def test_the_root_is_never_raised_directly():
    """Every ``raise`` of a vswitch error names a leaf: a handler for one kind of mistake catches all of them."""
    found = []
    for path in sorted((ROOT / "vswitch").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and \
                    getattr(node.exc.func, "id", None) == "VSwitchError":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_the_error_contract_is_documented():
    """The README's Python section lists every leaf of ``core/errors.py``."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## From Python and pytest"):readme.index("## What it models")]
    leaves = [name for name, value in vars(errors).items()
              if isinstance(value, type) and issubclass(value, VSwitchError) and value is not VSwitchError]
    assert leaves and [name for name in leaves if f"`{name}`" not in section] == []

