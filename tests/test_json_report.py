"""``vswitch run --format json`` (issue 13 item 4): every example's output is valid against the documented schema
(docs/report.schema.json, explained key by key in docs/json.md), times are integer ns beside their text, drops are
``{reason: count}`` objects.

The schema is standard JSON Schema (2020-12); ``validate`` below checks the part of it the schema uses and refuses
any other keyword, so the schema cannot silently say more than is checked. No new dependency: the full
``jsonschema`` library, where installed, validates too.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from vswitch.cli import main
from vswitch.core.reasons import DropReason
from vswitch.core.units import parse_duration
from vswitch.scenario.report_json import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())
DOC = (ROOT / "docs" / "json.md").read_text()
TOPOLOGIES = sorted((ROOT / "topologies").glob("*.yaml"))
ANNOTATIONS = {"$schema", "$id", "title", "description", "$defs"}
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _is(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":  # the io section's vcpu_busy, a share of the run
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, TYPES[kind])


def validate(value: Any, schema: dict, path: str = "$", root: dict = SCHEMA) -> list[str]:
    """The places where ``value`` breaks ``schema`` (empty: valid)."""
    unknown = set(schema) - ANNOTATIONS - {"$ref", "type", "properties", "required", "additionalProperties", "items",
                                           "enum", "const", "minimum", "maximum", "minItems", "maxItems",
                                           "propertyNames"}
    assert not unknown, f"the schema uses {sorted(unknown)} at {path}: teach validate() or leave them out"
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return validate(value, target, path, root)
    kinds = schema.get("type")
    if kinds is not None and not any(_is(value, k) for k in ([kinds] if isinstance(kinds, str) else kinds)):
        return [f"{path}: expected {kinds}, got {type(value).__name__} {value!r}"]
    errors = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}, got {value!r}")
    if "minimum" in schema and _is(value, "integer") and value < schema["minimum"]:
        errors.append(f"{path}: {value} is below {schema['minimum']}")
    if "maximum" in schema and _is(value, "integer") and value > schema["maximum"]:
        errors.append(f"{path}: {value} is above {schema['maximum']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        errors += [f"{path}: missing {key!r}" for key in schema.get("required", ()) if key not in value]
        for key, item in value.items():
            if "propertyNames" in schema:
                errors += validate(key, schema["propertyNames"], f"{path} key {key!r}", root)
            if key in properties:
                errors += validate(item, properties[key], f"{path}.{key}", root)
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected key {key!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += validate(item, schema["additionalProperties"], f"{path}.{key}", root)
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", len(value)):
            errors.append(f"{path}: {len(value)} items")
        for index, item in enumerate(value):
            errors += validate(item, schema.get("items", {}), f"{path}[{index}]", root)
    return errors


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, dict]:
    """Each example's JSON output, by file name (run once for the tests of this module)."""
    return {}


def output_of(path: Path, outputs: dict, tmp_path: Path, capsys) -> dict:
    if path.name not in outputs:
        assert main(["run", str(path), "--out", str(tmp_path), "--format", "json"]) == 0
        outputs[path.name] = json.loads(capsys.readouterr().out)
    return outputs[path.name]


@pytest.mark.parametrize("path", TOPOLOGIES, ids=lambda p: p.stem)
def test_every_example_output_is_valid_against_the_schema(path, outputs, tmp_path, capsys):
    data = output_of(path, outputs, tmp_path, capsys)
    assert validate(data, SCHEMA) == []
    assert data["schema_version"] == SCHEMA_VERSION


def _timed(value: Any) -> Iterator[tuple[str, str, int]]:
    """(key, text, ns) of every time given both ways anywhere in ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            ns = value.get(f"{key}_ns")
            if isinstance(item, str) and isinstance(ns, int):
                yield key, item, ns
            yield from _timed(item)
    elif isinstance(value, list):
        for item in value:
            yield from _timed(item)


@pytest.mark.parametrize("name, keys", [
    ("mac-ageing-and-moves.yaml", {"virtual_time", "age", "at", "time"}),
    ("migration-qemu-rarp.yaml", {"virtual_time", "age", "at", "detached", "attached", "expires_in", "time"}),
    ("attack-loop.yaml", {"virtual_time", "age", "at", "time"}),
])
def test_times_are_integer_ns_that_say_what_their_text_says(name, keys, outputs, tmp_path, capsys):
    data = output_of(ROOT / "topologies" / name, outputs, tmp_path, capsys)
    timed = list(_timed(data))
    assert {key for key, _, _ in timed} == keys
    assert [(key, text) for key, text, ns in timed if parse_duration(text) != ns] == []


def test_drops_are_reason_count_objects_that_add_up(outputs, tmp_path, capsys):
    data = output_of(ROOT / "topologies" / "adapter-modes-vepa.yaml", outputs, tmp_path, capsys)
    rows = {row["interface"]: row for row in data["counters"]}
    assert rows["sw1.p2"]["rx_dropped"] == {"same_port": 3} and rows["sw1.p2"]["tx_dropped"] == {}
    total: dict[str, int] = {}
    for row in data["counters"]:
        for reason, count in [*row["rx_dropped"].items(), *row["tx_dropped"].items()]:
            total[reason] = total.get(reason, 0) + count
    assert total == data["summary"]["drops_by_reason"]


REASONS = SCHEMA["$defs"]["drops"]["propertyNames"]["enum"]


def test_the_validator_finds_what_breaks_the_schema(outputs, tmp_path, capsys):
    good = output_of(ROOT / "topologies" / "adapter-modes-vepa.yaml", outputs, tmp_path, capsys)
    broken = copy.deepcopy(good)
    del broken["summary"]["virtual_time_ns"]
    broken["counters"][0]["rx_dropped"] = {"same-port": 1}
    broken["counters"][1]["tx_dropped"] = {"same_port": "1"}
    broken["mac_tables"][0]["colour"] = "red"
    broken["expectations"][0]["at_ns"] = -1
    broken["schema_version"] = 2
    assert validate(broken, SCHEMA) == [
        "$.schema_version: expected 1, got 2",
        "$.summary: missing 'virtual_time_ns'",
        "$.mac_tables[0]: unexpected key 'colour'",
        f"$.counters[0].rx_dropped key 'same-port': 'same-port' is not one of {REASONS}",
        "$.counters[1].tx_dropped.same_port: expected integer, got str '1'",
        "$.expectations[0].at_ns: -1 is below 0"]


def test_the_schema_knows_every_drop_reason_and_its_version():
    assert SCHEMA["$defs"]["drops"]["propertyNames"]["enum"] == sorted(r.name.lower() for r in DropReason)
    assert SCHEMA["properties"]["schema_version"] == {"const": SCHEMA_VERSION}


def _property_names(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        yield from schema.get("properties", {})
        for item in schema.values():
            yield from _property_names(item)
    elif isinstance(schema, list):
        for item in schema:
            yield from _property_names(item)


def test_docs_json_md_documents_every_key_and_links_the_schema():
    documented = set(re.findall(r"`([a-z][a-z0-9_]*)`", DOC))
    assert sorted(set(_property_names(SCHEMA)) - documented) == []
    assert "report.schema.json" in DOC and f"schema_version` is {SCHEMA_VERSION}" in DOC


def test_the_jsonschema_library_agrees_where_installed(outputs, tmp_path, capsys):
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed (the test above validates)")
    data = output_of(ROOT / "topologies" / "sriov-controls.yaml", outputs, tmp_path, capsys)
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(data, SCHEMA, cls=jsonschema.Draft202012Validator)
