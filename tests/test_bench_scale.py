"""The scale workloads of ``vswitch bench`` (``bench/scale.py``): big10k and flood1k, run with a tiny N."""

from __future__ import annotations

import re

import pytest

from vswitch.bench import scale
from vswitch.bench.runner import WORKLOADS, report, run_bench
from vswitch.bench.scale import (BIG_LIMITS, broadcasts, big_topology, flood_topology, run_big10k, run_flood1k)
from vswitch.bench.workload import Endpoint
from vswitch.topology.diagnostics import TopologyFileError
from vswitch.topology.loader import load_topology_text


def test_big10k_builds_10000_vms_and_every_vm_and_other_host_receives_a_vms_broadcast(tmp_path):
    result = run_bench("big10k", 1, tmp_path)
    # 9,999 other VMs and the 99 other hypervisors' own interfaces (macvlan keeps a vNIC's frame from its host)
    assert (result.frames, result.delivered, result.dropped, result.in_flight) == (10_098, 10_098, 0, 0)
    assert re.match(r"10,000 VMs \(100 hypervisors x 100\) on one switch: generated in [\d.]+ s, validated in "
                    r"[\d.]+ s, built in [\d.]+ s; 1 broadcast \(one from each of the first VMs\), each delivered "
                    r"to 10,098 interfaces, in [\d.]+ s \([\d,]+ ns per copy; [\d.]+ s of CPU\)", result.detail)
    assert "big10k: 10,000 VMs" in report([result])


def test_n_chooses_how_many_vms_send_up_to_every_one_of_them():
    small = run_big10k(3 * 13, hypervisors=3, per_hypervisor=4)  # 13 receivers a broadcast: 11 VMs, 2 hosts
    assert (small.delivered, small.dropped, small.in_flight) == (3 * 13, 0, 0)
    everyone = run_big10k(10**6, hypervisors=3, per_hypervisor=4)
    assert everyone.delivered == 12 * 13 and "12 broadcasts (one from every VM)" in everyone.detail


def test_the_generated_big_topology_needs_only_the_device_limit_raised():
    text = big_topology()
    with pytest.raises(TopologyFileError, match=r"the file lists 10101 devices .* \(limit devices=10000; "):
        load_topology_text(text)
    spec = load_topology_text(text, limits=BIG_LIMITS)
    assert (len(spec.hypervisors), sum(len(h.vms) for h in spec.hypervisors), len(spec.links)) == (100, 10_000, 100)


def test_flood1k_floods_every_broadcast_to_every_other_port_at_each_size():
    result = run_flood1k(60, sizes=(3, 11))  # 30 deliveries a size: 15 broadcasts of 2 copies, 3 of 10
    assert (result.delivered, result.dropped, result.in_flight) == (15 * 2 + 3 * 10, 0, 0)
    assert re.fullmatch(r"per delivered copy: 3 ports [\d,]+ ns \(15 broadcasts\), 11 ports [\d,]+ ns "
                        r"\(3 broadcasts\)", result.detail)


def test_a_flood_whose_nic_counters_disagree_with_its_deliveries_says_so(monkeypatch):
    counted = scale._nic_rx_packets
    monkeypatch.setattr(scale, "_nic_rx_packets", lambda net: 2 * counted(net))  # a NIC counting each copy twice
    with pytest.raises(RuntimeError, match=r"^15 broadcasts: the NICs' counters add up to 60 frames received, but 30 "
                                           r"were delivered$"):
        run_flood1k(30, sizes=(3,))


def test_the_flood_topology_is_an_ordinary_file_within_the_default_limits():
    spec = load_topology_text(flood_topology(1000))
    assert len(spec.hosts) == 1000 and spec.links[-1].a == "h1000"


def test_broadcasts_go_round_robin_one_microsecond_apart():
    ends = [Endpoint(f"h{k}", bytes([2, 0, 0, 0, 0, k]), bytes([10, 0, 0, k])) for k in (1, 2)]
    items = list(broadcasts(ends, 3))
    assert [(t, name) for t, name, _ in items] == [(0, "h1"), (1000, "h2"), (2000, "h1")]
    assert all(frame[:6] == b"\xff" * 6 and frame[6:12] == ends[k % 2].mac for k, (_, _, frame) in enumerate(items))


def test_the_command_knows_the_scale_workloads():
    assert {"big10k", "flood1k"} <= set(WORKLOADS)
