"""``vswitch run FILE... --jobs N``: several files, reports in file order, one summary table, the worst status."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from vswitch.cli import EXAMPLE, main
from vswitch.runmany import FileRun, summary_table, worst

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_FILE = str(ROOT / EXAMPLE)
HAIRPIN = str(ROOT / "topologies/adapter-modes-vepa.yaml")
FAILING = """\
name: failing
switches: [{name: sw1}]
hosts:
  - {name: h1, mac: "02:00:00:00:00:01"}
  - {name: h2, mac: "02:00:00:00:00:02"}
links: [[h1, sw1.p1], [h2, sw1.p2]]
scenario:
  - at: 1us
    send: {from: h1, to: h2, name: h1-to-h2}
expect:
  - delivered: {frame: h1-to-h2, to: h1}
"""


@pytest.fixture
def failing(tmp_path: Path) -> str:
    path = tmp_path / "failing.yaml"
    path.write_text(FAILING)
    return str(path)


def sections(out: str) -> list[str]:
    """The file names heading each report, in the order printed."""
    return re.findall(r"^== (.+) ==$", out, re.M)


def captures(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_reports_come_in_file_order_then_one_table_and_the_same_for_any_jobs(tmp_path, capsys):
    files = [HAIRPIN, EXAMPLE_FILE]
    outputs = {}
    for jobs in (1, 2):
        assert main(["run", *files, "--jobs", str(jobs), "--out", str(tmp_path / f"j{jobs}")]) == 0
        out, err = capsys.readouterr()
        assert err == ""
        assert sections(out) == files
        outputs[jobs] = out.replace(f"j{jobs}", "jN")
    assert outputs[1] == outputs[2]
    table = outputs[2].split("\n\n")[-1]
    assert re.search(rf"^{re.escape(EXAMPLE_FILE)}\s+two-vms-one-adapter\s+passed\s+7/7\s+4\s+0$", table, re.M)
    assert table.endswith("2 files: 2 passed, 0 failed, 0 with errors; exit status 0\n")
    assert "expectations: 7/7 passed" in out.split("== ")[2]  # the example's own report, under its name
    one, two = captures(tmp_path / "j1"), captures(tmp_path / "j2")
    assert sorted({name.split("/")[0] for name in one}) == ["adapter-modes-vepa", "two-vms-one-adapter"]
    assert one == two  # byte for byte


def test_the_exit_status_is_the_worst_files(tmp_path, failing, capsys):
    assert main(["run", EXAMPLE_FILE, failing, "--jobs", "2", "--out", str(tmp_path / "a"), "--quiet"]) == 1
    out, _ = capsys.readouterr()
    assert re.search(rf"^{re.escape(failing)}\s+failing\s+FAILED\s+0/1\s+1\s+1$", out, re.M)
    missing = str(tmp_path / "missing.yaml")
    assert main(["run", failing, missing, EXAMPLE_FILE, "-j", "3", "--out", str(tmp_path / "b"), "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert sections(out) == [failing, missing, EXAMPLE_FILE]  # the unreadable file keeps its place
    assert err.splitlines() == [f"vswitch: {missing}: no such file (the examples are in topologies/, e.g. {EXAMPLE})"]
    assert out.endswith("3 files: 1 passed, 1 failed, 1 with errors; exit status 2\n")


def test_a_folder_runs_its_files_in_name_order(tmp_path, failing, capsys):
    folder = tmp_path / "sweep"
    folder.mkdir()
    shutil.copy(failing, folder / "b.yaml")
    shutil.copy(EXAMPLE_FILE, folder / "a.yaml")
    assert main(["run", str(folder), "--jobs", "2", "--out", str(tmp_path / "out"), "--quiet"]) == 1
    assert sections(capsys.readouterr().out) == [str(folder / "a.yaml"), str(folder / "b.yaml")]


def test_two_files_writing_one_folder_are_refused_before_anything_runs(tmp_path, capsys):
    copy = tmp_path / "copy.yaml"
    shutil.copy(EXAMPLE_FILE, copy)
    assert main(["run", EXAMPLE_FILE, str(copy), "--out", str(tmp_path / "out")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [f"vswitch: {EXAMPLE_FILE} and {copy} would both write their captures in "
                                f"{tmp_path / 'out' / 'two-vms-one-adapter'}/ (the same topology name): rename one, "
                                "or run them one at a time with --out"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("option", ["--html", "--mermaid"])
def test_one_report_path_for_several_files_is_refused(tmp_path, option, capsys):
    assert main(["run", EXAMPLE_FILE, HAIRPIN, option, str(tmp_path / "x"), "--out", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [f"vswitch: {option} {tmp_path / 'x'}: one path for 2 files; give {option} without "
                                "a path (each file's goes in its captures' folder), or run the files one by one"]


def test_json_of_several_files_is_one_list_in_file_order(tmp_path, failing, capsys):
    missing = str(tmp_path / "missing.yaml")
    status = main(["run", failing, EXAMPLE_FILE, missing, "--jobs", "2", "--out", str(tmp_path / "o"),
                   "--format", "json"])
    assert status == 2
    runs = json.loads(capsys.readouterr().out)
    assert [(r["file"], r["exit_status"]) for r in runs] == [(failing, 1), (EXAMPLE_FILE, 0), (missing, 2)]
    assert runs[1]["report"]["summary"]["expectations_passed"] == 7
    assert runs[2]["report"] is None and runs[2]["errors"][0].startswith(f"{missing}: no such file")


def test_summary_table_and_worst_status():
    runs = [FileRun("a.yaml", 0, topology="a", expectations="2/2", frames=1234), FileRun("b.yaml", 2)]
    assert worst(runs) == 2 and worst(runs[:1]) == 0 and worst([]) == 0
    table = summary_table(runs)
    assert re.search(r"^a\.yaml\s+a\s+passed\s+2/2\s+1,234\s+0$", table, re.M)
    assert re.search(r"^b\.yaml\s+-\s+error\s+-\s+-\s+2$", table, re.M)
