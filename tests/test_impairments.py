"""Link impairments (l2/impair.py, docs/impairments.md): netem's loss, Gilbert-Elliott bursts, jitter with its order
policy, duplication and corruption, each seeded, counted, traced and checked by the ``loss`` expectation."""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vswitch.core.errors import TopologyError
from vswitch.core.reasons import DropReason, Verdict
from vswitch.kernel.check import not_checked, without_impairments
from vswitch.l2.impair import ImpairedDirection, Impairment
from vswitch.net.network import Network
from vswitch.scenario.report import impairment_rows
from vswitch.scenario.runner import ScenarioRunner
from vswitch.topology.build import build_network
from vswitch.topology.diagnostics import TopologyFileError
from vswitch.topology.loader import load_topology_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "topologies" / "impairments-lossy-links.yaml"
H1, H2 = "02:00:00:00:00:01", "02:00:00:00:00:02"
FRAME = bytes.fromhex("020000000002020000000001" "88b5") + bytes(range(46))  # h1 -> h2, 60 bytes


def pair(latency_ns: int = 0, seed: int = 0, **settings) -> Network:
    """h1 -- h2 on one cable, what h1 sends impaired with ``settings``."""
    net = Network(record=True)
    net.add_host("h1", H1)
    net.add_host("h2", H2)
    net.connect("h1", "h2", latency_ns=latency_ns)
    net.impair("h1", Impairment(**settings), seed=seed)
    return net


def received(net: Network) -> list:
    return net.deliveries("h2")


# -- zero cost and seeding ------------------------------------------------------------------------------

def test_a_link_without_impairments_keeps_the_datapaths_shortcut():
    net = pair(latency_ns=5)
    link = net.link("h1")
    assert link.plain and link.a_to_b.impair is None
    net.impair("h1", Impairment(loss=0.0, jitter_ns=0))  # nothing active: still a perfect wire
    assert link.plain and link.a_to_b.impair is None
    net.impair("h1", Impairment(loss=0.5))
    assert not link.plain and link.a_to_b.impair is not None and link.b_to_a.impair is None
    link.up = False
    link.up = True
    assert not link.plain


def test_each_direction_has_its_own_stream_named_after_its_ports():
    spec = load_topology_text(TWO_HOSTS.format(link="{a: h1, b: h2, loss: 50%}"), "lab.yaml")
    net = build_network(spec)
    link = net.link("h1")
    assert link.a_to_b.impair.seed == "vswitch-impair/0/h1.eth0>h2.eth0"
    assert link.b_to_a.impair.seed == "vswitch-impair/0/h2.eth0>h1.eth0"
    other = build_network(load_topology_text("seed: 9\n" + TWO_HOSTS.format(link="{a: h1, b: h2, loss: 50%}")))
    assert other.link("h1").a_to_b.impair.seed == "vswitch-impair/9/h1.eth0>h2.eth0"


# -- loss -----------------------------------------------------------------------------------------------

def test_random_loss_on_100000_frames_is_within_a_statistical_bound():
    n, p = 100_000, 0.05
    net = Network(record=False)
    net.add_host("h1", H1)
    net.add_host("h2", H2)
    net.connect("h1", "h2")
    net.impair("h1", Impairment(loss=p), seed=17)
    net.send_series("h1", FRAME, n, interval_ns=1000)
    net.run()
    lost = net.port("h1").counters.tx_dropped[DropReason.LOST_RANDOM]
    assert abs(lost - n * p) <= 5 * math.sqrt(n * p * (1 - p))  # 5 sigma: about 345 frames
    assert net.stats.delivered == n - lost and net.stats.dropped[DropReason.LOST_RANDOM] == lost
    assert net.port("h2").counters.rx_packets == n - lost


def test_gilbert_elliott_bursts_have_netems_mean_length_and_loss():
    p, r = 0.02, 0.25
    direction = ImpairedDirection(Impairment(burst=(p, r, 1.0, 0.0)), "burst-test")
    outcomes = [direction.lose() for _ in range(100_000)]
    assert set(outcomes) == {None, DropReason.LOST_BURST}
    bursts, run = [], 0
    for outcome in outcomes:
        if outcome is not None:
            run += 1
        elif run:
            bursts.append(run)
            run = 0
    mean_burst = sum(bursts) / len(bursts)
    share = sum(o is not None for o in outcomes) / len(outcomes)
    assert abs(mean_burst - 1 / r) < 0.25  # bad state lasts 1/r frames on average: 4
    assert abs(share - p / (p + r)) < 0.01  # long-run loss p / (p + r): 7.4%
    assert direction.offered == 100_000


def test_gilbert_elliott_loses_in_good_and_bad_states_as_1_minus_k_and_1_minus_h():
    always_bad = ImpairedDirection(Impairment(burst=(1.0, 0.0, 0.5, 0.0)), "s")  # to bad at once, never back
    outcomes = [always_bad.lose() for _ in range(20_000)]
    assert outcomes[0] is None  # the first frame met the good state, where 1-k = 0 loses nothing
    assert abs(sum(o is not None for o in outcomes[1:]) / 19_999 - 0.5) < 0.02
    never_bad = ImpairedDirection(Impairment(burst=(0.0, 1.0, 1.0, 0.1)), "s")
    assert abs(sum(never_bad.lose() is not None for _ in range(20_000)) / 20_000 - 0.1) < 0.01


def test_a_lost_frame_is_a_counted_drop_traced_at_the_sender():
    net = pair(loss=1.0)
    frame_id = net.send("h1", FRAME)
    net.run()
    assert received(net) == []
    assert net.trace.drops(frame_id) == [("h1.eth0", DropReason.LOST_RANDOM)]
    assert net.port("h1").counters.tx_dropped == {DropReason.LOST_RANDOM: 1}
    assert net.stats.in_flight == 0


# -- jitter and order -----------------------------------------------------------------------------------

def _jittered(order_kept: bool) -> tuple[list[int], list[int]]:
    net = pair(latency_ns=1_000_000, jitter_ns=500_000, reorder=not order_kept)
    first = net.send_series("h1", FRAME, 1000, interval_ns=10_000)[0]
    net.run()
    inbox = received(net)
    return [d.frame_id - first for d in inbox], [d.time_ns for d in inbox]


def test_jitter_keeps_order_by_default():
    order, times = _jittered(order_kept=True)
    assert order == list(range(1000)) and times == sorted(times)
    delays = [t - i * 10_000 for i, t in zip(order, times)]
    assert min(delays) >= 500_000 and max(delays) > 1_400_000  # latency -0.5 ms .. +0.5 ms, then held in order


def test_jitter_with_order_reorder_lets_frames_overtake_within_the_jitter():
    order, times = _jittered(order_kept=False)
    assert sorted(order) == list(range(1000)) and order != list(range(1000))
    delays = [t - i * 10_000 for i, t in zip(order, times)]
    assert all(500_000 <= d < 1_500_000 for d in delays)


# -- duplicate and corrupt ------------------------------------------------------------------------------

def test_duplicates_reach_the_receiver_and_are_counted_as_copies():
    net = pair(latency_ns=10, duplicate=1.0)
    ids = net.send_series("h1", FRAME, 5, interval_ns=1000)
    net.run()
    assert [d.frame_id for d in received(net)] == [i for i in ids for _ in (0, 1)]
    assert (net.stats.copies, net.stats.delivered, net.link("h1").a_to_b.impair.duplicated) == (5, 10, 5)
    events = net.trace.for_frame(ids[0])
    assert [e.outcome for e in events].count(Verdict.DUPLICATED) == 1
    assert net.trace.delivered_to(ids[0]) == ["h2.eth0", "h2.eth0"]


def test_corruption_flips_one_bit_that_the_trace_names():
    net = pair(corrupt=1.0)
    ids = net.send_series("h1", FRAME, 50)
    net.run()
    for delivery in received(net):
        diff = int.from_bytes(delivery.frame, "big") ^ int.from_bytes(FRAME, "big")
        assert bin(diff).count("1") == 1
        bit_from_left = len(FRAME) * 8 - diff.bit_length()
        byte, bit = bit_from_left // 8, 7 - bit_from_left % 8
        note = [e.note for e in net.trace.for_frame(delivery.frame_id) if e.outcome is Verdict.CORRUPTED]
        assert note == [f"bit {bit} of byte {byte} flipped"]
    assert len(received(net)) + net.port("h2").counters.rx_dropped.total() == len(ids)  # a flipped MAC: not_for_us


GUESTS = """
name: lab
seed: {seed}
hosts:
  - {{name: h1, mac: "02:00:00:00:00:01", ip: 192.0.2.1/24}}
  - {{name: h2, mac: "02:00:00:00:00:02", ip: 192.0.2.2/24}}
switches: [{{name: sw1}}]
links:
  - [h1, sw1.p1]
  - {{a: sw1.p2, b: h2, a_to_b: {{corrupt: 30%}}}}
scenario:
  - ping: {{from: h1, to: h2, count: 200, interval: 1ms, name: p}}
"""


def test_the_receiving_stack_counts_corrupted_frames_as_checksum_errors():
    spec = load_topology_text(GUESTS.format(seed=3), "lab.yaml")
    net = build_network(spec)
    ScenarioRunner(spec, net).run()
    stack = net.nic("h2").stack.guest
    corrupted = net.link("h2").a_to_b.impair.corrupted
    bad = stack.counters["bad_checksum"] + stack.counters["bad_ip_header"]
    assert corrupted > 30 and 0 < bad <= corrupted
    assert stack.counters["echo_requests_received"] + bad <= 200


# -- determinism ----------------------------------------------------------------------------------------

def _run(tmp_path: Path, name: str, seed: str, text: str | None = None) -> dict[str, str]:
    out = tmp_path / name
    source = EXAMPLE
    if text is not None:
        source = tmp_path / f"{name}.yaml"
        source.write_text(text)
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run([sys.executable, "-m", "vswitch", "run", str(source), "--out", str(out), "--quiet"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}


def test_same_seed_gives_the_same_bytes_under_any_hash_seed_and_another_seed_other_bytes(tmp_path):
    first = _run(tmp_path, "a", "1")
    assert first == _run(tmp_path, "b", "4242")
    assert first == {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                     for p in sorted((ROOT / "pcaps" / "impairments-lossy-links").iterdir())
                     if p.name != "report.html"}  # the captures; the report is test_examples' (run --html)
    text = EXAMPLE.read_text().replace("seed: 2026", "seed: 2027").split("\nexpect:")[0]
    other = _run(tmp_path, "c", "1", text)
    assert set(other) == set(first) and all(other[name] != first[name] for name in first)


# -- the loss expectation and the files -----------------------------------------------------------------

TWO_HOSTS = """
hosts:
  - {{name: h1, mac: "02:00:00:00:00:01"}}
  - {{name: h2, mac: "02:00:00:00:00:02"}}
links:
  - {link}
"""


def _checks(link: str, *expect: str, frames: int = 2000) -> list[tuple[bool, str]]:
    text = (TWO_HOSTS.format(link=link) + "scenario:\n  - send: {from: h1, to: h2, name: f, count: "
            f"{frames}, interval: 1us}}\n  - send: {{from: h2, to: h1, name: g, count: {frames}, interval: 1us}}\n"
            "expect:\n" + "".join(f"  - {e}\n" for e in expect))
    spec = load_topology_text(text, "lab.yaml")
    result = ScenarioRunner(spec, build_network(spec)).run()
    return [(c.passed, c.actual) for c in result.checks]


def test_the_loss_expectation_checks_a_direction_or_a_whole_link():
    results = _checks("{a: h1, b: h2, loss: 10%, b_to_a: {loss: 0%}}",
                      "loss: {on: h1, between: [8%, 12%]}", "loss: {on: h1--h2, between: [8%, 12%]}",
                      "loss: {on: h1, between: [0%, 5%]}", "loss: {on: h2, between: [0%, 100%]}")
    assert [passed for passed, _ in results] == [True, True, False, False]
    assert results[3][1].startswith("no impairments there")  # h2's direction: the link counts h1's alone


@pytest.mark.parametrize("link, message", [
    ("{a: h1, b: h2, loss: 150%}", "links[0].loss: 150% is not a probability"),
    ("{a: h1, b: h2, loss: lots}", "links[0].loss: expected a probability such as 5% or 0.05, got 'lots'"),
    ("{a: h1, b: h2, loss: {r: 10%}}", "links[0].loss: missing required key 'p'"),
    ("{a: h1, b: h2, loss: {p: 1%, q: 2%}}", "links[0].loss.q: unknown key 'q'"),
    ("{a: h1, b: h2, jitter: soon}", "links[0].jitter:"),
    ("{a: h1, b: h2, order: sideways}", "links[0].order:"),
    ("{a: h1, b: h2, a_to_b: {los: 1%}}", "links[0].a_to_b.los: unknown key 'los' (did you mean 'loss'?)"),
    ("{a: h1, b: h2, b_to_a: 5%}", "links[0].b_to_a: expected a mapping"),
    ("{a: h1, b: h2, duplicate: true}", "links[0].duplicate: expected a probability"),
])
def test_bad_impairment_values_name_file_line_and_field(link, message):
    with pytest.raises(TopologyFileError) as caught:
        load_topology_text(TWO_HOSTS.format(link=link), "lab.yaml")
    text = str(caught.value)
    assert f"lab.yaml:6:" in text and message in text, text


@pytest.mark.parametrize("head, expect, message", [
    ("seed: -1\n", "", "lab.yaml:1:7: seed:"),
    ("seed: 1.5\n", "", "lab.yaml:1:7: seed:"),
    ("", "loss: {on: h1, between: [6%, 4%]}", "expect[0].loss.between: between: 6% is above 4%"),
    ("", "loss: {on: h1, between: 5%}", "expect[0].loss.between: expected [LOW, HIGH]"),
    ("", "loss: {on: h9, between: [0%, 5%]}", "expect[0]: loss.on: nothing named 'h9'"),
])
def test_bad_seed_and_loss_expectations_name_file_line_and_field(head, expect, message):
    text = head + TWO_HOSTS.format(link="{a: h1, b: h2, loss: 5%}") + (f"expect:\n  - {expect}\n" if expect else "")
    with pytest.raises(TopologyFileError) as caught:
        load_topology_text(text, "lab.yaml")
    assert message in str(caught.value), str(caught.value)


def test_the_report_counts_each_impaired_direction():
    spec = load_topology_text(EXAMPLE.read_text(), str(EXAMPLE))
    net = build_network(spec, record=False)
    ScenarioRunner(spec, net).run()
    rows = impairment_rows(net)
    assert [(r["from"], r["to"]) for r in rows] == [("branch.eth0", "site-a.p3"), ("site-a.p2", "site-b.p2"),
                                                    ("site-b.p2", "site-a.p2")]
    assert rows[0]["lost_burst"] == net.port("branch").counters.tx_dropped[DropReason.LOST_BURST] > 0
    assert rows[0]["lost_random"] == rows[0]["duplicated"] == rows[0]["corrupted"] == 0
    wan = net.link("site-a.p2")
    assert rows[1]["offered"] == wan.a_to_b.impair.offered and rows[1]["duplicated"] == wan.a_to_b.impair.duplicated


@pytest.mark.parametrize("settings, message", [
    ({"loss": 1.5}, "loss must be a probability"), ({"duplicate": -0.1}, "duplicate must be a probability"),
    ({"corrupt": True}, "corrupt must be a probability"), ({"burst": (0.1, 0.2)}, "burst is \\(p, r, 1-h, 1-k\\)"),
    ({"burst": (0.1, 0.2, 2.0, 0.0)}, "burst 1-h must be a probability"), ({"jitter_ns": -1}, "jitter_ns must be"),
    ({"jitter_ns": 1.5}, "jitter_ns must be"), ({"reorder": "yes"}, "reorder must be True or False"),
])
def test_impairment_values_from_python_are_checked(settings, message):
    with pytest.raises(TopologyError, match=message):
        Impairment(**settings)


def test_a_down_link_drops_without_drawing():
    net = pair(loss=0.5, duplicate=0.5)
    net.set_link_state(net.link("h1"), False)
    net.send_series("h1", FRAME, 10)
    net.run()
    assert net.port("h1").counters.tx_dropped == {DropReason.LINK_DOWN: 10}
    assert net.link("h1").a_to_b.impair.offered == 0


def test_the_network_api_refuses_what_it_cannot_impair():
    net = Network()
    net.add_host("h1", H1)
    with pytest.raises(TopologyError, match="h1.eth0 has no cable"):
        net.impair("h1", Impairment(loss=0.1))
    net.add_host("h2", H2)
    net.connect("h1", "h2")
    with pytest.raises(TopologyError, match="impair: impairment"):
        net.impair("h1", {"loss": 0.1})
    with pytest.raises(TopologyError, match="impair: seed"):
        net.impair("h1", Impairment(loss=0.1), seed="7")


def test_kernel_check_runs_both_sides_without_impairments_and_says_so():
    spec = load_topology_text(TWO_HOSTS.format(link="{a: h1, b: h2, loss: 5%, jitter: 1ms}"), "lab.yaml")
    assert any(line.startswith("link impairments (h1-h2): loss, jitter") for line in not_checked(spec))
    bare = without_impairments(spec)
    assert not any(ln.a_to_b.active or ln.b_to_a.active for ln in bare.links)
    assert build_network(bare).link("h1").plain
