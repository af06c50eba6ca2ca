"""Scenario actions and expectations: one frozen class per kind, performed and checked through one registry."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, replace

import pytest

from vswitch.core.errors import ScenarioError
from vswitch.scenario import registry
from vswitch.scenario.runner import ScenarioRunner
from vswitch.topology.build import build_network
from vswitch.topology.loader import load_topology, load_topology_text
from vswitch.topology.spec import ACTION_KINDS, EXPECTATION_KINDS, Action
from vswitch.topology.yamlreader import MapReader, text

LAN = """\
hosts: [{name: h1, nics: [{mac: "02:00:00:00:00:01"}]}, {name: h2, nics: [{mac: "02:00:00:00:00:02"}]}]
switches: [{name: sw1}]
links: [{a: h1, b: sw1.p1}, {a: h2, b: sw1.p2}]
"""


def test_every_action_and_expectation_kind_has_its_row_in_the_registry():
    assert {kind for kind, action in ACTION_KINDS.items() if action in registry.PERFORMERS} == set(ACTION_KINDS)
    assert {kind for kind, check in EXPECTATION_KINDS.items() if check in registry.CHECKS} == set(EXPECTATION_KINDS)
    assert len(ACTION_KINDS) == 15 and len(EXPECTATION_KINDS) == 18  # io (io_reader.py), stp (stp_reader.py), ndp_entry


def test_a_read_action_is_a_frozen_value_of_its_kind():
    spec = load_topology_text(LAN + "scenario: [{link: {a: h1, up: false}}]\n")
    [step] = spec.scenario
    assert (type(step.action).__name__, step.kind, step.action.a, step.action.up) == ("LinkAction", "link", "h1", False)
    with pytest.raises(FrozenInstanceError):
        step.action.up = True  # type: ignore[misc]


@pytest.fixture
def note_action():
    """A new action, declared as a plugin would: one class that reads itself, and its performer."""

    @dataclass(frozen=True, kw_only=True)
    class NoteAction(Action, kind="note"):
        text: str

        @classmethod
        def read(cls, r: MapReader) -> NoteAction:
            action = cls(text=r.take("text", text))
            r.finish()
            return action

    yield NoteAction
    ACTION_KINDS.pop("note")
    registry.PERFORMERS.pop(NoteAction, None)


def test_a_new_action_is_one_class_and_one_performer(note_action):
    @registry.performs(note_action)
    def note(context, action, where):
        context.result.warnings.append(f"{where}: {action.text} at {context.net.now} ns")

    spec = load_topology_text(LAN + "scenario: [{at: 1ms, note: {text: hello}}]\n", "lab.yaml")
    result = ScenarioRunner(spec, build_network(spec)).run()
    assert result.warnings == ["lab.yaml:4:12: scenario[0]: hello at 1000000 ns"]


def test_an_action_with_no_performer_fails_at_its_time_naming_its_place(note_action):
    spec = load_topology_text(LAN + "scenario: [{at: 1ms, note: {text: hello}}]\n", "lab.yaml")
    with pytest.raises(ScenarioError, match=r"^lab.yaml:4:12: scenario\[0\]: at 1ms: unknown action 'note'$"):
        ScenarioRunner(spec, build_network(spec)).run()


def test_a_second_class_for_a_kind_is_refused_and_the_first_stays():
    first = ACTION_KINDS["send"]
    with pytest.raises(TypeError, match="^OtherSend: the kind 'send' is SendAction already$"):
        @dataclass(frozen=True, kw_only=True)
        class OtherSend(Action, kind="send"):
            pass
    assert ACTION_KINDS["send"] is first


@pytest.mark.parametrize("path, kind", [("topologies/guests-udp-and-stream.yaml", "stream"),
                                        ("topologies/migration-qemu-rarp.yaml", "migrate"),
                                        ("topologies/replay-capture.yaml", "replay"),
                                        ("topologies/guests-ping-adapter-modes.yaml", "ping")])
def test_a_guest_action_built_in_python_without_a_name_is_an_error_not_a_result_named_none(path, kind):
    """The reader names every guest action; one built without a name (the Python API) used to run and report
    its stream, migration or replays under None, two replays merged under that one name."""
    spec = load_topology(path)
    scenario = tuple(replace(step, action=replace(step.action, name=None)) if step.kind == kind else step
                     for step in spec.scenario)
    spec = replace(spec, scenario=scenario, expectations=())
    with pytest.raises(ScenarioError, match=f"a {kind} action needs a name"):
        ScenarioRunner(spec, build_network(spec)).run()
