"""The ``io`` key of VMs and hypervisors, its errors, the io report and JSON, the ``io`` expectation, and what the
models do to a run (docs/io-models.md)."""

import json
from fractions import Fraction

import pytest

from vswitch.cli import main
from vswitch.core.errors import TopologyError
from vswitch.scenario.report import render
from vswitch.scenario.report_json import as_json
from vswitch.scenario.runner import ScenarioRunner
from vswitch.topology.build import build_network
from vswitch.topology.loader import load_topology_text

LAB = """
name: io-lab
switches:
  - name: sw1
hosts:
  - {name: h1, mac: "02:00:00:00:00:01", ip: 10.0.0.1/24}
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    io: virtio
    vms:
      - {name: vm1, ip: 10.0.0.11/24, io: emulated}
      - {name: vm2, ip: 10.0.0.12/24}
      - {name: vm3, ip: 10.0.0.13/24, io: {model: passthrough, posted_interrupts: true}}
      - {name: vm4, ip: 10.0.0.14/24, io: none}
links:
  - {a: h1, b: sw1.p1, latency: 5us}
  - {a: hv1, b: sw1.p2, latency: 5us}
scenario:
  - ping: {from: vm1, to: h1, count: 10, interval: 10ms}
  - ping: {from: vm2, to: h1, count: 10, interval: 10ms}
  - ping: {from: vm3, to: h1, count: 10, interval: 10ms}
  - ping: {from: vm4, to: h1, count: 10, interval: 10ms}
"""


def run(text, name="io.yaml"):
    spec = load_topology_text(text, name)
    net = build_network(spec)
    return spec, net, ScenarioRunner(spec, net).run()


def test_a_hypervisor_io_is_the_default_of_its_vms_and_a_vm_overrides_it():
    spec = load_topology_text(LAB)
    ios = {vm.name: vm.io for vm in spec.hypervisors[0].vms}
    assert {name: io.model for name, io in ios.items()} == {"vm1": "emulated", "vm2": "virtio",
                                                            "vm3": "passthrough", "vm4": "none"}
    assert ios["vm3"].posted_interrupts and str(ios["vm1"].where) == "<string>:12:43: hypervisors[0].vms[0].io"


def test_a_vm_mapping_overrides_the_hypervisor_key_by_key_and_costs_entry_by_entry():
    text = LAB.replace("io: virtio", "io: {model: emulated, cpu_ghz: 2.5, costs: {exit_user: 7000, eoi: 1}}") \
              .replace("io: emulated}", "io: {costs: {eoi: 9}}}")
    vm1 = load_topology_text(text).hypervisors[0].vms[0].io
    assert (vm1.model, vm1.cpu_ghz, vm1.costs) == ("emulated", Fraction(5, 2), (("eoi", 9), ("exit_user", 7000)))


def test_without_io_a_vm_has_no_accounting_and_the_datapath_skips_it():
    _, net, _ = run(LAB)
    assert net.vnics["vm4"].port.io is None and net.vnics["vm1"].port.io is not None
    assert net.port("h1").io is None


def test_the_io_section_per_vm_in_json_and_the_report():
    spec, net, result = run(LAB)
    io = as_json(net, result)["io"]
    assert sorted(io) == ["vm1", "vm2", "vm3"]
    # 10 echo requests and one ARP request out; 10 replies, one ARP reply and the 3 other VMs' ARP requests in
    assert {vm: (row["frames_tx"], row["frames_rx"]) for vm, row in io.items()} == {
        "vm1": (11, 14), "vm2": (11, 14), "vm3": (11, 14)}
    # e1000: 7 register accesses a ping (TDT; ICR, IMC, STATUS, RDT, IMS, STATUS), each reply within its
    # request's interrupt (50 us of ITR); the first echo request goes out within the ARP reply's interrupt, which
    # also took the other VMs' ARP requests: 6 accesses fewer
    assert io["vm1"]["device_accesses"] == 11 * 7 - 6 and io["vm1"]["interrupts"] == 10
    assert (io["vm2"]["kicks"], io["vm2"]["interrupts"], io["vm2"]["device_accesses"]) == (11, 11 + 12, 0)
    assert io["vm3"]["exits"]["irq_injections"] == 0 and io["vm3"]["copies"] == 0
    assert set(io["vm1"]) == {"model", "models", "frames_tx", "frames_rx", "exits", "device_accesses", "kicks", "interrupts",
                              "copies", "bytes_copied", "cycles", "vcpu_cycles", "vcpu_busy_ns", "vcpu_busy"}
    text = render(net, result)
    assert "I/O models (per VM)" in text and "emulated" in text and "vm4 " not in text.split("I/O models")[1]


def test_accounting_without_a_clock_moves_no_frame():
    _, with_io, _ = run(LAB)
    _, without, _ = run(LAB.replace("io: virtio", "io: none").replace("io: emulated", "io: none")
                        .replace("io: {model: passthrough, posted_interrupts: true}", "io: none"))
    assert [d.time_ns for d in with_io.nic("h1").inbox] == [d.time_ns for d in without.nic("h1").inbox]


def test_a_vcpu_clock_makes_exits_visible_as_time():
    _, fast, fast_result = run(LAB)
    _, slow, slow_result = run(LAB.replace("io: emulated}", "io: {model: emulated, cpu_ghz: 1.0}}"))
    rtt = lambda result, vm: result.sessions[f"ping-{vm}-h1"].rtt_ns()  # noqa: E731 (min, avg, max, mdev)
    assert rtt(slow_result, "vm2") == rtt(fast_result, "vm2")
    # the request waits for the TDT exit (6.7 us at 1 GHz), the reply for the vCPU busy with the transmit
    # interrupt (5 register exits, injection, EOI: 37.8 us) and the RDT write (6.7 us), less the 20 us wire RTT
    assert rtt(slow_result, "vm1")[0] == 20_000 + 31_295
    busy = as_json(slow, slow_result)["io"]["vm1"]["vcpu_busy"]
    assert 0 < busy < 0.01


def test_the_io_expectation_bounds_per_frame_figures():
    text = LAB + """expect:
  - io: {vm: vm3, exits_per_frame: {max: 2}}
  - io: {vm: vm1, exits_per_frame: {max: 2}, device_accesses_per_frame: {min: 3}}
"""
    _, _, result = run(text)
    assert [c.passed for c in result.checks] == [True, False]
    assert result.checks[1].description == ("vm1 (emulated) exits per frame at most 2; device accesses per frame "
                                            "at least 3")
    assert result.checks[1].actual == "exits per frame 3.64; device accesses per frame 2.84"


def test_the_io_expectation_on_a_vm_without_a_model_is_refused_when_the_file_is_read(capsys, tmp_path):
    path = tmp_path / "lab.yaml"
    path.write_text(LAB + "expect:\n  - io: {vm: vm4, kicks_per_frame: {max: 1}}\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:" in err and "expect[0]: io: VM vm4 has no I/O model to count: give it one on the VM or its " \
        "hypervisor (io: virtio; models: emulated, rtl8139, virtio, vhost, passthrough, xen, syscall)" in err


def test_run_json_has_the_io_section(capsys, tmp_path):
    path = tmp_path / "lab.yaml"
    path.write_text(LAB)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["io"]["vm2"]["model"] == "virtio" and data["io"]["vm2"]["vcpu_busy"] is None


@pytest.mark.parametrize("change, message", [
    ("io: virtio", "10:9: hypervisors[0].io: expected one of none, emulated, rtl8139, virtio, vhost, passthrough, xen, "
                   "syscall, got 'virtio-net'"),
    ("io: emulated}", "12:43: hypervisors[0].vms[0].io: posted_interrupts applies to model passthrough"),
    ("io: none}", "15:43: hypervisors[0].vms[3].io: model none accounts nothing"),
    ("io: {model: passthrough, posted_interrupts: true}", "14:79: hypervisors[0].vms[2].io.costs.exits: unknown "
                                                          "cost 'exits'; the costs are: exit_kernel"),
    ("io: virtio", "10:34: hypervisors[0].io.cpu_ghz: a vCPU clock is more than 0 and at most 100 GHz, not 0"),
    ("io: emulated}", "12:61: hypervisors[0].vms[0].io.speed: unknown key 'speed' (expected one of: "
                      "cpu_ghz, indirect_factor, irq_coalesce, model, posted_interrupts)"),
])
def test_io_mistakes_name_file_line_column_and_field(change, message):
    replacement = {
        "io: virtio": "io: virtio-net" if "virtio-net" in message else "io: {model: virtio, cpu_ghz: 0}",
        "io: emulated}": "io: {model: emulated, speed: 1}}" if "speed" in message
        else "io: {model: emulated, posted_interrupts: true}}",
        "io: none}": "io: {model: none, cpu_ghz: 3}}",
        "io: {model: passthrough, posted_interrupts: true}": "io: {model: passthrough, costs: {exits: 5}}",
    }[change]
    with pytest.raises(TopologyError) as error:
        load_topology_text(LAB.replace(change, replacement, 1), "io.yaml")
    assert f"io.yaml:{message}" in str(error.value)


@pytest.mark.parametrize("check, message", [
    ("{vm: vm1}", "bound at least one of exits_per_frame"),
    ("{vm: vm1, exits_per_frame: 2}", "expected a mapping with min and/or max"),
    ("{vm: vm1, exits_per_frame: {min: 3, max: 2}}", "min 3 is above max 2"),
    ("{vm: vm9, exits_per_frame: {max: 2}}", "vm9"),
])
def test_io_expectation_mistakes_are_reported(check, message):
    with pytest.raises(TopologyError, match=message):
        load_topology_text(LAB + f"expect:\n  - io: {check}\n", "io.yaml")


def pcapng_comments(path):
    """(interface, comment) of every record of a pcapng."""
    from scapy.utils import rdpcap
    return [(packet.sniffed_on, packet.comments[0].decode()) for packet in rdpcap(str(path))]


def test_pcapng_comments_at_a_vnic_with_a_model_say_what_each_frame_cost(tmp_path):
    text = LAB.replace("io: virtio", "io: {model: virtio, cpu_ghz: 3.0}") + \
        "captures:\n  points: [vm1, vm2, vm4, h1]\n"
    spec = load_topology_text(text, "io.yaml")
    net = build_network(spec, capture_dir=tmp_path)
    ScenarioRunner(spec, net).run()
    net.close()
    records = pcapng_comments(tmp_path / spec.pcapng)
    at = {name: [c for i, c in records if i == name] for name in ("vm1.eth0", "vm2.eth0", "vm4.eth0", "h1.eth0")}
    # the e1000 guest's echo requests: the TDT write, then the completion's interrupt (ICR, IMC, STATUS, IMS,
    # STATUS); the reply comes within the interrupt's throttling window: only the RDT write of the refill
    sent = [c for c in at["vm1.eth0"] if " transmitted; " in c]
    got = [c for c in at["vm1.eth0"] if " delivered; " in c]
    assert len(sent) == 11 and len(got) >= 10
    assert sent[-1].endswith("; io: 8 traps (6 mmio, 1 irq, 1 eoi), 1 copy of 98 bytes, 44,538 cycles, "
                             "14.8 us of vCPU")
    assert got[-1].endswith("; io: 1 trap (1 mmio), 1 copy of 98 bytes, 6,757 cycles, 2.3 us of vCPU")
    assert all("; io: " in c for c in sent + got)
    # virtio: the kick is one trap, handled in QEMU
    assert any(c.endswith("; io: 3 traps (1 mmio, 1 irq, 1 eoi), 1 kick, 1 copy of 98 bytes, 10,878 cycles, "
                          "3.6 us of vCPU") for c in at["vm2.eth0"])
    # io: none, and a host, have no io note; neither does a frame the vNIC did not deliver
    assert at["vm4.eth0"] and not any("io:" in c for c in at["vm4.eth0"] + at["h1.eth0"])
    assert not any("io:" in c for c in at["vm1.eth0"] if "dropped" in c)
    # the notes are taken as the frames are captured: none is left behind
    assert net.vnics["vm1"].port.io._notes == {} and net.vnics["vm2"].port.io._notes == {}


def test_without_a_pcapng_of_the_vnic_no_note_is_kept(tmp_path):
    spec = load_topology_text(LAB + "captures:\n  points: [h1]\n", "io.yaml")
    net = build_network(spec, capture_dir=tmp_path)
    ScenarioRunner(spec, net).run()
    net.close()
    io = net.vnics["vm1"].port.io
    assert io.frames_tx == 11 and not io.note_tx and not io.note_rx and io._notes == {}


MIGRATE = """
name: io-migrate
switches:
  - name: sw1
hosts:
  - {name: h1, mac: "02:00:00:00:00:01", ip: 10.0.0.1/24}
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    io: virtio
    vms:
      - {name: vm1, ip: 10.0.0.11/24}
      - {name: vm2, ip: 10.0.0.12/24, io: {cpu_ghz: 3.0}}
      - {name: vm3, ip: 10.0.0.13/24, io: vhost}
      - {name: vm4, ip: 10.0.0.14/24, io: none}
  - name: hv2
    mac: "02:00:00:00:00:bb"
    io: emulated
links:
  - {a: h1, b: sw1.p1, latency: 5us}
  - {a: hv1, b: sw1.p2, latency: 5us}
  - {a: hv2, b: sw1.p3, latency: 5us}
scenario:
  - ping: {from: h1, to: vm1, count: 4, interval: 100ms}
  - ping: {from: h1, to: vm2, count: 4, interval: 100ms}
  - ping: {from: h1, to: vm3, count: 4, interval: 100ms}
  - ping: {from: h1, to: vm4, count: 4, interval: 100ms}
  - at: 150ms
    migrate: {vm: vm1, to: hv2, downtime: 10ms}
  - at: 150ms
    migrate: {vm: vm2, to: hv2, downtime: 10ms}
  - at: 150ms
    migrate: {vm: vm3, to: hv2, downtime: 10ms}
  - at: 150ms
    migrate: {vm: vm4, to: hv2, downtime: 10ms}
"""


def test_a_migrated_vm_takes_the_destination_default_model_unless_it_sets_its_own():
    spec, net, result = run(MIGRATE)
    io = {vm: net.vnics[vm].port.io for vm in ("vm1", "vm2", "vm3", "vm4")}
    # vm1 inherited virtio from hv1: on hv2 it is an e1000; vm2 set only its clock: hv2's model, its own clock
    assert io["vm1"].models == ["virtio", "emulated"] and io["vm1"].costs.cpu_ghz is None
    assert io["vm2"].models == ["virtio", "emulated"] and io["vm2"].costs.cpu_ghz == Fraction(3)
    assert io["vm3"].models == ["vhost"]  # its own model goes with it
    assert io["vm4"] is None  # io: none is its own too
    # the counts go on across the move: 2 echoes on each side, and the e1000's register accesses only after it
    assert (io["vm1"].frames_tx, io["vm1"].frames_rx) == (io["vm3"].frames_tx, io["vm3"].frames_rx)
    assert io["vm1"].frames_rx >= 4 and io["vm1"].device_accesses >= 2 * 7 and io["vm3"].device_accesses == 0
    data = as_json(net, result)["io"]
    assert data["vm1"]["models"] == ["virtio", "emulated"] and data["vm1"]["model"] == "emulated"
    assert "virtio -> emulated" in render(net, result)


def test_a_vm_without_a_model_gets_the_destination_default_and_one_leaving_it_keeps_its_counts():
    to_model = MIGRATE.replace("    io: virtio\n", "").replace(", io: {cpu_ghz: 3.0}", "")  # hv1: no model
    spec, net, _ = run(to_model)
    account = net.vnics["vm1"].port.io  # accounted from the move on: 2 echoes, its 5 RARP rounds, the others' 15
    # and the 5 gratuitous ARPs of vm3 (vhost: a virtio-net guest announces itself in each round)
    assert account.models == ["none", "emulated"] and (account.frames_tx, account.frames_rx) == (2 + 5, 2 + 15 + 5)
    assert net.vnics["vm3"].port.io.models == ["vhost"] and net.vnics["vm4"].port.io is None
    to_none = MIGRATE.replace("    io: emulated\n", "")  # virtio on hv1, nothing on hv2
    spec, net, _ = run(to_none)
    account = net.vnics["vm1"].port.io  # counted all along; events only before the move: an ARP reply and 2
    assert account.models == ["virtio", "none"] and account.model.name == "none"  # echoes out, 4 ARPs and 2 in
    # after the move: its 5 gratuitous ARPs out (it was a virtio guest: it announces itself), vm2's and vm3's in
    assert (account.frames_tx, account.frames_rx, account.kicks, account.copies) == (3 + 7 + 5, 6 + 17 + 10, 3, 3 + 6)
