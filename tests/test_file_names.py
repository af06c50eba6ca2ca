"""A topology without ``name:`` is named after its file (issue 12, item 10), under the rules of ``name:``.

The name is the default capture folder (``pcaps/<name>/``): ``..yaml`` would write into ``pcaps/`` itself,
``...yaml`` into the current folder, and ESC or ``;$(id)`` would reach a folder name. Such a file is refused with
one line saying to add a ``name:`` key or rename the file, and ``run`` writes nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vswitch import cli
from vswitch.topology.loader import load_topology

HOSTILE = Path(__file__).parent / "hostile"
BODY = 'hosts: [{name: h1, mac: "02:00:00:00:00:01"}, {name: h2, mac: "02:00:00:00:00:02"}]\nlinks: [[h1, h2]]\n' \
       "scenario:\n  - send: {from: h1, to: h2}\n"


@pytest.mark.parametrize("stem", [".", "..", ";$(id)", "\x1b[31mred", "lab.v2", "a b", "$HOME"],
                         ids=repr)
def test_a_file_name_that_is_not_a_valid_name_is_refused_and_run_writes_nothing(tmp_path, capsys, monkeypatch,
                                                                                 stem):
    path = tmp_path / f"{stem}.yaml"
    path.write_text(BODY)
    monkeypatch.chdir(tmp_path)  # where `vswitch run` without --out would write pcaps/<name>/
    before = sorted(tmp_path.rglob("*"))
    assert cli.main(["validate", path.name]) == 2
    assert capsys.readouterr().err == (
        f"vswitch: {path.name}: name: the file name would name this topology {stem!r}, which is not a valid name "
        "(letters, digits, '-' and '_'): add a name: key, e.g. name: lab, or rename the file\n")
    assert cli.main(["run", path.name]) == 2
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize("file", ["..yaml", "...yaml", ";$(id).yaml"])
def test_the_hostile_file_runs_once_it_has_a_name(tmp_path, capsys, monkeypatch, file):
    copy = tmp_path / file
    shutil.copy(HOSTILE / file, copy)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", file, "--quiet"]) == 2
    assert not (tmp_path / "pcaps").exists()
    copy.write_text("name: lab\n" + copy.read_text())
    assert cli.main(["run", file, "--quiet"]) == 0, capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "pcaps").iterdir()) == ["lab"]
    assert (tmp_path / "pcaps" / "lab" / "all.pcapng").is_file()


def test_a_valid_file_name_still_names_the_topology(tmp_path):
    path = tmp_path / "my-lab_2.yaml"
    path.write_text(BODY)
    assert load_topology(path).name == "my-lab_2"
    path.write_text("name: other\n" + BODY)
    assert load_topology(path).name == "other"
