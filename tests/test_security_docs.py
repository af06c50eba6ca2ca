"""docs/topology.md and docs/security.md document every security key, reason, expectation and example."""

import re
from pathlib import Path

import pytest
import yaml

from conftest import table_rows
from vswitch.core.reasons import DropReason
from vswitch.topology.scenario_reader import ACTIONS
from vswitch.topology.security_reader import PORT_KEYS, SECURITY_EXPECTATIONS, VF_KEYS

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGY = (ROOT / "docs" / "topology.md").read_text()
SECURITY = (ROOT / "docs" / "security.md").read_text()
EXAMPLES = sorted(p.name for p in (ROOT / "topologies").glob("*.yaml")
                  if p.name.startswith(("attack-", "vlan-", "sriov-")))


def section(doc: str, heading: str) -> str:
    """The text under ``heading`` (e.g. ``## switches``) up to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    start = doc.index(f"\n{heading}\n") + len(heading) + 2
    following = re.search(rf"\n#{{1,{len(level)}}} ", doc[start:])
    return doc[start:start + following.start()] if following else doc[start:]


def code_names(cell: str) -> list[str]:
    """The names written as code in a table cell: `` `learning`, `flood` `` -> ["learning", "flood"]."""
    return re.findall(r"`([^`]+)`", cell)


def slug(heading: str) -> str:
    """The anchor a Markdown renderer gives a heading: lower case, punctuation dropped, spaces as dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_there_are_attack_vlan_and_sriov_examples():
    assert {"attack-mac-spoofing.yaml", "attack-sniffing-untrusted.yaml", "attack-vlan-hopping.yaml",
            "attack-mac-flooding-refuse.yaml", "attack-mac-flooding-evict.yaml", "attack-loop.yaml"} <= set(EXAMPLES)


def test_the_examples_table_lists_existing_files_each_once_with_what_it_shows():
    rows = table_rows(section(TOPOLOGY, "## The examples"), "file")
    names = [row[0].strip("`") for row in rows]
    assert len(names) == len(set(names)) and all((ROOT / "topologies" / name).is_file() for name in names)
    assert all(len(row) == 2 and row[1] for row in rows)  # a non-empty "shows" cell
    assert set(EXAMPLES) <= set(names)


def test_each_attack_example_has_a_section_in_security_md():
    explained = set()
    for heading in re.findall(r"^## (.*)$", SECURITY, re.M):
        full = ""
        for name in code_names(heading):  # "(`attack-mac-flooding-refuse.yaml`, `-evict.yaml`)": the same stem
            full = full.rsplit("-", 1)[0] + name if name.startswith("-") else name
            explained.add(full)
    attacks = {n for n in EXAMPLES if n.startswith("attack-")}
    assert attacks and attacks <= explained, sorted(attacks - explained)


def test_the_drop_reasons_table_is_every_reason_with_its_description_in_order():
    rows = table_rows(section(TOPOLOGY, "## Drop reasons"), "reason")
    assert [(row[0], row[1]) for row in rows] == [(f"`{r.name.lower()}`", r.value) for r in DropReason]


def test_every_security_expectation_kind_is_a_row_of_the_expectations_table():
    kinds = [row[0] for row in table_rows(section(TOPOLOGY, "## expect: expectations"), "kind")]
    assert [f"`{kind}`" for kind in sorted(SECURITY_EXPECTATIONS)] == sorted(
        k for k in kinds if k.strip("`") in SECURITY_EXPECTATIONS)
    assert len(kinds) == len(set(kinds))


@pytest.mark.parametrize("heading, keys", [
    ("## switches", ["vlan_filtering", "vlan_protocol", "storm_limit"]),
    ("## hypervisors and vms", ["mac_filter_size", *VF_KEYS]),
    ("## VLANs, SR-IOV controls, port security and loops", list(PORT_KEYS)),
], ids=["switch", "hypervisor-and-vm", "port"])
def test_every_security_key_is_a_row_of_a_key_table_in_its_section(heading, keys):
    rows = table_rows(section(TOPOLOGY, heading), "key")
    documented = {name: row for row in rows for name in code_names(row[0])}
    assert sorted(k for k in keys if k not in documented) == []
    assert all(len(documented[k]) == 4 and documented[k][1] and documented[k][2] for k in keys)  # type and default


def test_the_vf_action_has_a_section():
    assert "vf" in ACTIONS and "\n### vf\n" in TOPOLOGY


def test_the_yaml_examples_of_the_new_sections_parse():
    blocks = re.findall(r"<!-- test: merge -->\n```yaml\n(.*?)```",
                        section(TOPOLOGY, "## VLANs, SR-IOV controls, port security and loops"), re.S)
    assert len(blocks) >= 3
    for block in blocks:
        assert isinstance(yaml.safe_load(block), dict)


def test_security_md_links_resolve_to_files_and_headings():
    links = re.findall(r"\]\(([a-z]+\.md)(?:#([a-z0-9-]+))?\)", SECURITY)
    assert ("topology.md", "vlans-sr-iov-controls-port-security-and-loops") in links
    for target, anchor in links:
        assert (ROOT / "docs" / target).is_file(), target
        if anchor:
            headings = re.findall(r"^#+ (.*)$", (ROOT / "docs" / target).read_text(), re.M)
            assert anchor in {slug(h) for h in headings}, f"{target}#{anchor}"
