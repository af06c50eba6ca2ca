"""A migration counts what its announcement sends against the ``frames`` limit (docs/limits.md): QEMU's RARP
rounds and, in each, a virtio-net guest's own announcement (a gratuitous ARP per IPv4 address, an unsolicited
advertisement per IPv6 address, link-local included, an MLDv2 report), Xen's one announcement, nothing for
``none``. The budget must equal what a run injects, so the tests take each count from a run and check that
``--limit frames=`` lets the file through at that count and refuses it one below, at the migrate action."""

from __future__ import annotations

import pytest

from vswitch import cli
from vswitch.scenario.runner import ScenarioRunner
from vswitch.topology.build import build_network
from vswitch.topology.diagnostics import TopologyFileError
from vswitch.topology.limits import Limits
from vswitch.topology.loader import load_topology_text

LAB = """\
name: budget
switches: [{{name: sw1}}]
hosts: [{{name: h1, mac: "02:00:00:00:00:01", ip: 192.0.2.1/24, ip6: [2001:db8::1/64]}}]
hypervisors:
  - {{name: hv1, mac: "02:00:00:00:00:aa", io: {{model: {io1}}}, vms: [{vm}]}}
  - {{name: hv2, mac: "02:00:00:00:00:bb", io: {{model: {io2}}}}}
links: [[h1, sw1.p1], [hv1, sw1.p2], [hv2, sw1.p3]]
scenario:
{steps}"""
DUAL = "{name: vm1, ip: 192.0.2.11/24, ip6: [2001:db8::11/64, 2001:db8::12/64]}"
MOVE = "  - {{at: {at}, migrate: {{vm: vm1, to: {to}, downtime: 10ms{extra}}}}}\n"


def lab(vm: str = DUAL, io1: str = "virtio", io2: str = "virtio", moves: tuple[tuple[str, str, str], ...] = (
        ("2s", "hv2", ""),)) -> str:
    steps = "".join(MOVE.format(at=at, to=to, extra=extra) for at, to, extra in moves)
    return LAB.format(vm=vm, io1=io1, io2=io2, steps=steps)


def injected(text: str) -> int:
    """The announcement frames a run of ``text`` sends: what the migrations recorded under their names, checked
    against the frames the VM's vNIC transmitted beyond a run of the same file without them."""
    counts = []
    for body in (text, text.split("scenario:")[0]):
        spec = load_topology_text(body, "lab.yaml")
        net = build_network(spec)
        result = ScenarioRunner(spec, net).run()
        counts.append((sum(len(m.ids) for m in result.migrations), net.port("vm1.eth0").counters.tx_packets))
    (announced, tx), (_, tx_without) = counts
    assert tx - tx_without == announced
    return announced


def refusal(text: str, frames: int) -> str:
    with pytest.raises(TopologyFileError) as error:
        load_topology_text(text, "lab.yaml", Limits(max_frames=frames))
    return str(error.value)


CASES = {
    # virtio: RARP, then 1 gratuitous ARP + 3 advertisements + 1 MLDv2 report, in each of 5 rounds
    "virtio dual stack": (lab(), 5 * (1 + 1 + 3 + 1)),
    "vhost, 2 rounds": (lab(io1="vhost", moves=(("2s", "hv2", ", rounds: 2"),)), 2 * 6),
    "emulated NIC: RARP only": (lab(io1="emulated"), 5),
    "guest_announce off": (lab(moves=(("2s", "hv2", ", guest_announce: false"),)), 5),
    "guest_announce on, IPv4 only": (lab(vm="{name: vm1, ip: 192.0.2.11/24}", io1="emulated",
                                         moves=(("2s", "hv2", ", guest_announce: true"),)), 5 * 2),
    "IPv6 link-local alone": (lab(vm="{name: vm1, link_local: true}"), 5 * (1 + 1 + 1)),
    "link-local off": (lab(vm="{name: vm1, ip6: [2001:db8::11/64], link_local: false}"), 5 * (1 + 1 + 1)),
    "no stack": (lab(vm="{name: vm1}"), 5),
    "xen prefix: the guest once": (lab(vm="{name: vm1, prefix: xen, ip: 192.0.2.11/24, ip6: []}"), 1 + 1 + 1),
    "xen announcement of a qemu guest": (lab(moves=(("2s", "hv2", ", announce: xen"),)), 1 + 3 + 1),
    # the model moves with the VM: virtio on hv1, emulated on hv2, so the way back is RARP only
    "there and back": (lab(io2="emulated", moves=(("2s", "hv2", ""), ("4s", "hv1", ""))), 30 + 5),
    "written out of time order": (lab(io2="emulated", moves=(("4s", "hv1", ""), ("2s", "hv2", ""))), 30 + 5),
}


@pytest.mark.parametrize("case", CASES)
def test_the_budget_of_a_migration_is_what_the_run_sends(case):
    text, expected = CASES[case]
    assert injected(text) == expected
    load_topology_text(text, "lab.yaml", Limits(max_frames=expected))  # exactly enough
    message = refusal(text, expected - 1)
    assert f"with this action the scenario sends {expected} frames, more than {expected - 1}" in message
    assert f"raise it with --limit frames={expected}" in message


def test_announce_none_sends_nothing_and_costs_nothing():
    text = lab(moves=(("2s", "hv2", ", announce: none"),)).replace(
        "scenario:\n", "scenario:\n  - {at: 1s, send: {from: h1, to: vm1}}\n")
    spec = load_topology_text(text, "lab.yaml", Limits(max_frames=1))  # the send alone
    result = ScenarioRunner(spec, build_network(spec)).run()
    assert [len(m.ids) for m in result.migrations] == [0]


def test_the_refusal_points_at_the_migration_that_takes_the_total_over():
    text = lab(moves=(("2s", "hv2", ""), ("4s", "hv1", "")))
    message = refusal(text, 40)  # 30 for the first move, 30 more for the second (virtio both ways)
    assert message.count("\n") == 0 and message.startswith("lab.yaml:")
    line = text.splitlines().index(MOVE.format(at="4s", to="hv1", extra="").rstrip("\n")) + 1
    assert f"lab.yaml:{line}:" in message
    assert "scenario[1].migrate: with this action the scenario sends 60 frames, more than 40 (limit frames=40; " \
           "raise it with --limit frames=60)" in message


def test_validate_refuses_announcements_over_a_small_frames_limit(tmp_path, capsys):
    path = tmp_path / "lab.yaml"
    path.write_text(lab())
    assert cli.main(["validate", str(path), "--limit", "frames=29"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f"vswitch: {path}:9:23: scenario[0].migrate: with this action the scenario sends 30 frames, more "
                   "than 29 (limit frames=29; raise it with --limit frames=30)\n")
    assert cli.main(["validate", str(path), "--limit", "frames=30"]) == 0
