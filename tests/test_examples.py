"""Every example topology loads, runs with its expectations passing and reproduces the committed ``pcaps/``.

``pcaps/<name>/`` holds the captures of ``topologies/<file>.yaml`` (``name`` from the file) and its HTML report
(``report.html``, as ``vswitch run --html`` writes it: ``docs/report.md``); regenerate them
with ``python -m vswitch.regen`` after changing a topology or anything that reaches a capture. ``bench/`` holds
benchmark workloads, not examples.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from scapy.layers.l2 import Dot3, Ether  # binds linktype 1, so rdpcap dissects Ethernet
from scapy.utils import rdpcap

from vswitch.topology.build import build_network
from vswitch.cli import EXAMPLE, main
from vswitch.outputs import MANIFEST
from vswitch.scenario.runner import ScenarioRunner
from vswitch.topology.loader import load_topology

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGIES = sorted((ROOT / "topologies").glob("*.yaml"))
PCAPS = ROOT / "pcaps"
REGEN = "python -m vswitch.regen"
HASH_SEEDS = ("0", "1", "12345")
SUBPROCESS_TIMEOUT_S = 120

examples = pytest.mark.parametrize("path", TOPOLOGIES, ids=[p.stem for p in TOPOLOGIES])


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by path relative to it."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}  # run's list, not committed


def committed(name: str) -> Path:
    folder = PCAPS / name
    if not folder.is_dir() or not any(p.is_file() for p in folder.rglob("*")):
        pytest.fail(f"no committed captures in pcaps/{name}/: run `{REGEN}` from the repository root and commit "
                    "pcaps/", pytrace=False)
    return folder


def assert_same_files(fresh: Path, name: str, how: str) -> None:
    expected, got = digests(committed(name)), digests(fresh)
    assert sorted(got) == sorted(expected), (
        f"{how} writes {sorted(got)} but pcaps/{name}/ holds {sorted(expected)}: run `{REGEN}`")
    changed = sorted(f for f in expected if expected[f] != got[f])
    assert not changed, f"{how} differs from the committed pcaps/{name}/ in {changed}: run `{REGEN}` if intended"


def test_there_are_examples_and_the_cli_example_is_one():
    assert TOPOLOGIES, "no topologies/*.yaml found"
    assert ROOT / EXAMPLE in TOPOLOGIES


def test_example_names_are_unique():
    names = [load_topology(p).name for p in TOPOLOGIES]
    assert len(names) == len(set(names)), f"two topologies share a name (one capture folder): {sorted(names)}"


def test_no_stale_capture_folders():
    names = {load_topology(p).name for p in TOPOLOGIES}
    stale = sorted(p.name for p in PCAPS.iterdir() if p.name not in names) if PCAPS.is_dir() else []
    assert not stale, f"pcaps/ holds folders of no topology: {stale} (remove them; `{REGEN}` writes the others)"


@examples
def test_example_loads_and_builds(path):
    spec = load_topology(path)
    assert spec.name and spec.source == str(path)
    assert spec.scenario, "an example should do something"
    assert spec.expectations or any(a.kind == "expect" for a in spec.scenario), "an example should check something"
    build_network(spec).close()


@examples
def test_example_runs_green_and_reproduces_committed_pcaps(path, tmp_path, capsys):
    status = main(["run", str(path), "--out", str(tmp_path), "--quiet", "--html"])
    out = capsys.readouterr().out
    assert status == 0, f"vswitch run {path.name} exited {status}:\n{out}"
    assert "FAILED" not in out
    assert_same_files(tmp_path, load_topology(path).name, f"vswitch run {path.name}")


def _expected_counts(path: Path, out_dir: Path) -> tuple[dict[str, int], int]:
    """Frames each classic pcap must hold (from the run's port counters), and the pcapng's total."""
    spec = load_topology(path)
    net = build_network(spec, capture_dir=out_dir)
    try:
        result = ScenarioRunner(spec, net).run()
    finally:
        net.close()
    assert result.passed
    counts = {}
    for cap in spec.captures:
        c = net.port(cap.point).counters
        counts[cap.file] = (c.rx_packets if cap.direction in ("rx", "both") else 0) + \
                           (c.tx_packets if cap.direction in ("tx", "both") else 0)
    return counts, sum(counts.values())


@examples
def test_committed_pcaps_read_back_with_scapy(path, tmp_path):
    spec = load_topology(path)
    folder = committed(spec.name)
    counts, total = _expected_counts(path, tmp_path)
    assert total > 0, f"{path.name}: no capture point saw a frame"
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST}
    assert files == set(counts) | ({spec.pcapng} if spec.pcapng else set()) | {"report.html"}
    for name, count in counts.items():
        frames = rdpcap(str(folder / name))
        assert len(frames) == count, f"{name}: {len(frames)} frames, the counters say {count}"
        assert all(isinstance(f, (Ether, Dot3)) for f in frames)  # 802.3 (a length): BPDUs
        assert [f.time for f in frames] == sorted(f.time for f in frames)
    if spec.pcapng:
        frames = rdpcap(str(folder / spec.pcapng))
        assert len(frames) == total > 0
        assert all(isinstance(f, (Ether, Dot3)) for f in frames)  # 802.3 (a length): BPDUs
        points = {build_network(spec).port(cap.point).full_name for cap in spec.captures}
        assert {f.sniffed_on for f in frames} <= points
        assert all(f.comment for f in frames), "every pcapng frame says what happened to it"


# -- determinism across hash seeds, in subprocesses --------------------------------------------------------------
def _subprocess_cli_topologies() -> list[Path]:
    """Where ``vswitch run`` itself runs per hash seed: the CLI's example and the example with most captures."""
    by_files = sorted(TOPOLOGIES, key=lambda p: (-len(load_topology(p).captures), p.name))
    chosen = [ROOT / EXAMPLE] + [p for p in by_files if p != ROOT / EXAMPLE][:1]
    return [p for p in chosen if p in TOPOLOGIES]


@pytest.fixture(scope="module")
def seeded_runs(tmp_path_factory):
    """Per hash seed: ``python -m vswitch.regen`` over every topology, and ``python -m vswitch run`` on two,
    all launched in parallel. Returns {(seed, what): (returncode, output, folder)}."""
    base = tmp_path_factory.mktemp("seeds")
    jobs = []
    for seed in HASH_SEEDS:
        out = base / f"regen-{seed}"
        jobs.append(((seed, "regen"), [sys.executable, "-m", "vswitch.regen", "--topologies",
                                       str(ROOT / "topologies"), "--out", str(out)], out))
        for path in _subprocess_cli_topologies():
            out = base / f"run-{seed}-{path.stem}"
            jobs.append(((seed, path.stem), [sys.executable, "-m", "vswitch", "run", str(path), "--out", str(out),
                                             "--quiet", "--html"], out))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def launch(job):
        key, argv, out = job
        done = subprocess.run(argv, capture_output=True, text=True, cwd=base, timeout=SUBPROCESS_TIMEOUT_S,
                              env={**env, "PYTHONHASHSEED": key[0]})
        return key, (done.returncode, done.stdout + done.stderr, out)

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return dict(pool.map(launch, jobs))


@pytest.mark.parametrize("seed", HASH_SEEDS)
@examples
def test_regen_under_hash_seed_reproduces_committed_pcaps(seeded_runs, seed, path):
    status, output, out = seeded_runs[(seed, "regen")]
    assert status == 0, output
    name = load_topology(path).name
    assert_same_files(out / name, name, f"PYTHONHASHSEED={seed} {REGEN}")


@pytest.mark.parametrize("seed", HASH_SEEDS)
@pytest.mark.parametrize("path", _subprocess_cli_topologies(), ids=lambda p: p.stem)
def test_cli_under_hash_seed_reproduces_committed_pcaps(seeded_runs, seed, path):
    status, output, out = seeded_runs[(seed, path.stem)]
    assert status == 0, output
    name = load_topology(path).name
    assert_same_files(out, name, f"PYTHONHASHSEED={seed} vswitch run {path.name}")


# -- the regen module itself -----------------------------------------------------------------------------------
def test_regen_clears_stale_files_and_reports_one_line_per_topology(tmp_path, capsys):
    from vswitch import regen

    topologies = tmp_path / "topologies"
    (topologies / "bench").mkdir(parents=True)
    (topologies / "a.yaml").write_text((ROOT / EXAMPLE).read_text())
    (topologies / "bench" / "big.yaml").write_text("this: [is not read\n")
    stale = tmp_path / "pcaps" / "two-vms-one-adapter" / "old-point.pcap"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"stale")
    assert regen.main(["--topologies", str(topologies), "--out", str(tmp_path / "pcaps")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{topologies / 'a.yaml'}: 8 files in {tmp_path / 'pcaps' / 'two-vms-one-adapter'}/, "
                     "expectations 7/7 passed: ok"]
    assert not stale.exists()
    assert_same_files(tmp_path / "pcaps" / "two-vms-one-adapter", "two-vms-one-adapter", "regen into tmp")


def test_regen_bad_file_exits_2_and_goes_on(tmp_path, capsys):
    from vswitch import regen

    (tmp_path / "a-bad.yaml").write_text("hosts: 5\n")
    (tmp_path / "b-good.yaml").write_text((ROOT / EXAMPLE).read_text())
    assert regen.main(["--topologies", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"{tmp_path / 'a-bad.yaml'}:1:8: hosts: expected a list, got 5"]
    assert len(out.splitlines()) == 1 and "b-good.yaml" in out


def test_regen_replaces_whatever_is_at_a_topology_folder_and_an_unusable_out_is_one_line(tmp_path, capsys):
    from vswitch import regen

    topologies, pcaps = tmp_path / "topologies", tmp_path / "pcaps"
    topologies.mkdir()
    pcaps.mkdir()
    (topologies / "a.yaml").write_text((ROOT / EXAMPLE).read_text())
    os.mkfifo(pcaps / "two-vms-one-adapter")  # rmtree failed on it with a traceback
    assert regen.main(["--topologies", str(topologies), "--out", str(pcaps)]) == 0
    assert_same_files(pcaps / "two-vms-one-adapter", "two-vms-one-adapter", "regen over a FIFO")
    capsys.readouterr()
    (tmp_path / "file").write_text("not a folder")
    assert regen.main(["--topologies", str(topologies), "--out", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"output folder {tmp_path}/file/two-vms-one-adapter: {tmp_path}/file is a regular file, not a folder: choose "
        "another with --out"]
