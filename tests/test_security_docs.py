"""docs/topology.md and docs/security.md document every security key, reason, expectation and example."""

import re
from pathlib import Path

import pytest
import yaml

from vswitch.core.reasons import DropReason
from vswitch.topology.scenario_reader import ACTIONS
from vswitch.topology.security_reader import PORT_KEYS, SECURITY_EXPECTATIONS, VF_KEYS

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGY = (ROOT / "docs" / "topology.md").read_text()
SECURITY = (ROOT / "docs" / "security.md").read_text()
EXAMPLES = sorted(p.name for p in (ROOT / "topologies").glob("*.yaml")
                  if p.name.startswith(("attack-", "vlan-", "sriov-")))


def test_there_are_attack_vlan_and_sriov_examples():
    assert {"attack-mac-spoofing.yaml", "attack-sniffing-untrusted.yaml", "attack-vlan-hopping.yaml",
            "attack-mac-flooding-refuse.yaml", "attack-mac-flooding-evict.yaml", "attack-loop.yaml"} <= set(EXAMPLES)


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_is_in_the_examples_table(name):
    assert f"| `{name}` |" in TOPOLOGY


@pytest.mark.parametrize("name", [n for n in EXAMPLES if n.startswith("attack-")])
def test_each_attack_example_is_explained_in_security_md(name):
    assert name.removesuffix(".yaml").removeprefix("attack-").split("-")[0] in SECURITY
    assert name.removesuffix(".yaml") in SECURITY


@pytest.mark.parametrize("reason", [r.name.lower() for r in DropReason])
def test_every_drop_reason_is_in_the_reference(reason):
    assert f"| `{reason}` |" in TOPOLOGY


@pytest.mark.parametrize("kind", sorted(SECURITY_EXPECTATIONS))
def test_every_security_expectation_kind_is_in_the_expectations_table(kind):
    assert f"| `{kind}` |" in TOPOLOGY


@pytest.mark.parametrize("key", ["vlan_filtering", "vlan_protocol", "storm_limit", "mac_filter_size",
                                 *PORT_KEYS, *VF_KEYS])
def test_every_new_key_is_in_a_table(key):
    assert f"| `{key}` |" in TOPOLOGY or f"`{key}`" in TOPOLOGY.split("## Drop reasons")[0]


def test_the_vf_action_has_a_section():
    assert "vf" in ACTIONS and "\n### vf\n" in TOPOLOGY


def test_the_yaml_examples_of_the_new_sections_parse():
    section = TOPOLOGY.split("## VLANs, SR-IOV controls, port security and loops")[1].split("## Drop reasons")[0]
    blocks = re.findall(r"<!-- test: merge -->\n```yaml\n(.*?)```", section, re.S)
    assert len(blocks) >= 3
    for block in blocks:
        assert isinstance(yaml.safe_load(block), dict)


def test_security_md_links_resolve():
    for target in re.findall(r"\]\(([a-z]+\.md)", SECURITY):
        assert (ROOT / "docs" / target).is_file()
    anchor = "#vlans-sr-iov-controls-port-security-and-loops"
    assert anchor in SECURITY and "## VLANs, SR-IOV controls, port security and loops" in TOPOLOGY
