"""Hostile topology files (issue #5): `vswitch validate` refuses each one in bounded memory and bounded work, with one
line per problem naming the file; `--limit NAME=VALUE` makes a borderline file pass. The limits: docs/limits.md.

The small files are in tests/hostile/; the big ones are written here at run time. How long each takes is measured by
tests/bench_hostile.py, not asserted here: a loaded machine would make such a test fail at random.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import resource
import stat
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from conftest import table_rows

import vswitch
from vswitch import Network, cli
from vswitch.core.errors import VSwitchError
from vswitch.pcap.reader import CaptureReader
from vswitch.topology.diagnostics import MAX_SHOWN_PROBLEMS, TopologyFileError
from vswitch.topology.limits import LIMITS, Limits
from vswitch.topology.loader import load_topology
from vswitch.topology.yamlsource import load_text

HOSTILE = Path(__file__).parent / "hostile"
MAX_PEAK_BYTES = 200 * 2**20
HANG_GUARD_S = 120  # a subprocess that has not ended by then hangs: fail instead of blocking (they take ~1 s)

#: file in tests/hostile -> a fragment of the one-line message that refuses it
CORPUS = {
    "alias-bomb.yaml": "more than 200000 values once aliases are expanded (limit nodes=200000; raise it with "
                       "--limit nodes=400000)",
    "anchor-nested-vms.yaml": "hypervisors[0].vms[4][5]: more than 200000 values once aliases are expanded",
    "anchor-many-hypervisors.yaml": "hypervisors[101]: more than 100 alias references (limit aliases=100",
    "deep-nesting.yaml": "nested deeper than 32 levels (limit depth=32; raise it with --limit depth=64)",
    "deep-mappings.yaml": "nested deeper than 32 levels",
    "deep-flow-pairs.yaml": ":3:122: nested deeper than 32 levels (limit depth=32",
    "recursive-alias.yaml": "hosts[0]: recursive alias: a value cannot contain itself",
    "stream-count.yaml": "scenario[0].stream.count: 1000000000000 frames is more than a file may send "
                         "(limit frames=10000000; raise it with --limit frames=1000000000000)",
    "send-count.yaml": "scenario[0].send.count: 1000000000000 frames is more than a file may send",
    "ping-count.yaml": "scenario[0].ping.count: 1000000000000 frames",
    "frames-total.yaml": "scenario[2].stream.count: with this action the scenario sends 12000000 frames, more than "
                         "10000000 (limit frames=10000000; raise it with --limit frames=12000000)",
    "until-far.yaml": "until: 10000000h is later than a run may last (limit time=24h; raise it with "
                      "--limit time=10000000h)",
    "at-far.yaml": "scenario[0].at: 8766000h is later than a run may last",
    "stream-too-long.yaml": "scenario[0].stream: its last frame leaves at 999h, later than a run may last",
    "rate-too-slow.yaml": "scenario[0].stream: its last frame leaves at 9259260h",
    "latency-far.yaml": "links[0].latency: 10000000h is later than a run may last",
    "slow-link.yaml": "links[0].bandwidth: a full queue of 1000 frames at 1bps drains in 3418h",
    "capture-traversal.yaml": "captures.points[0].file: capture file '../../etc/x' must be a relative path",
    "capture-absolute.yaml": "captures.points[0].file: capture file '/etc/passwd' must be a relative path",
    "capture-clash.yaml": ":5:43: captures.points[1]: capture file x/a.pcap needs a folder x, but captures.points[0] "
                          "writes a file of that name: rename one of them",
    "capture-long-name.yaml": ":4:39: captures.points[0].file: capture file 'aaaaaaaaaaaaaaaaaaaaaaaaaa...aaaa.pcap': "
                              "a file or folder name of 300 bytes is longer than a file system allows (255 bytes): "
                              "shorten it",
    "capture-deep.yaml": ":4:39: captures.points[0].file: capture file 'd/d/d/d/d/d/d/d/d/d/d/d/d/...d/h1.pcap' is "
                         "2000 folders deep, more than 32: use fewer sub-folders",
    "name-too-long.yaml": ":2:7: name: a name of 300 bytes cannot be a folder name (at most 255 bytes; captures go to "
                          "pcaps/<name>/): shorten it",
    "capture-folder.yaml": ":6:11: captures.pcapng: capture file '.' names a folder: give a file name, e.g. h1.pcap",
    "null-port.yaml": ":6:7: switches[0].ports[None]: expected a port name, got null",
    "replay-traversal.yaml": "scenario[0].replay.file: replay file '../../etc/shadow' must be a relative path",
    "nul-bytes.yaml": ":2:8: NUL byte: this is a binary file, not YAML text",
    "garbage.bin": ":1:1: invalid UTF-8 byte 0x9f: save the file as UTF-8",
    "latin1.yaml": ":3:17: invalid UTF-8 byte 0xe9: save the file as UTF-8",
    "utf16.yaml": "the file is UTF-16 text: save it as UTF-8",
    "empty.yaml": "no YAML document: the file is empty or holds only comments",
    "comments-only.yaml": "no YAML document: the file is empty or holds only comments",
    "top-level-list.yaml": "the top level must be a mapping, not a list",
    "top-level-scalar.yaml": "the top level must be a mapping, not 'hello'",
    "huge-integer.yaml": "epoch: an integer of 5000 digits is too large",
    "huge-hex.yaml": "epoch: an integer of 4400 hex digits is too large: no field takes more than 40 (quote it",
    "huge-octal-key.yaml": "switches[0].ports: an integer of 5000 octal digits is too large",
    "long-value.yaml": "hosts[0].mac: invalid MAC address '52:54:00:52:54:00:52:54:00:52:54:00:...: write six",
    "escaped-control.yaml": "description: control character U+001B (written as an escape) is not allowed",
    "python-tag.yaml": "name: tag !!python/object/apply:os.system is not supported",
    "second-document.yaml": "but found another document",
    "rate-exponent.yaml": ":6:49: scenario[0].stream.rate: invalid rate '1e30000000pps': write a positive number "
                          "of frames per second",  # before: over a minute building 10**30000000
    "loss-exponent.yaml": ":10:27: expect[0].ping.loss: expected a percentage such as 0%, 25% or 33.33%",
    "udp-hostname.yaml": ":6:44: scenario[0].send.udp.src_ip: invalid IPv4 address 'no-such-host.invalid': vswitch "
                         "does not look up host names: write the address itself, e.g. 192.0.2.20",
    "udp-localhost.yaml": "scenario[0].send.udp.dst_ip: invalid IPv4 address 'localhost': vswitch does not look up",
    "udp-prefix.yaml": "scenario[0].stream.udp.dst_ip: invalid IPv4 address '192.0.2.0/30': a prefix is not one "
                       "address: write a single address",
    "udp-not-an-address.yaml": "scenario[0].send.udp.src_ip: invalid IPv4 address '192.0.2.1-5': ranges are not "
                               "supported",
    "guest-ip-hostname.yaml": "hosts[0].ip: invalid IPv4 interface 'localhost/8': vswitch does not look up host names",
    "..yaml": "..yaml: name: the file name would name this topology '.', which is not a valid name (letters, digits, "
              "'-' and '_'): add a name: key, e.g. name: lab, or rename the file",
    "...yaml": "name: the file name would name this topology '..', which is not a valid name",
    ";$(id).yaml": "name: the file name would name this topology ';$(id)', which is not a valid name",
}


def validate(capsys, *argv: str) -> tuple[int, str, list[str]]:
    """``vswitch validate ARGV``: exit status, stdout, stderr lines."""
    capsys.readouterr()
    status = cli.main(["validate", *argv])
    out, err = capsys.readouterr()
    return status, out, err.splitlines()


def peak_bytes(*argv: str) -> int:
    """Peak Python memory of ``vswitch validate ARGV`` (tracemalloc)."""
    tracemalloc.start()
    try:
        cli.main(["validate", *argv])
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def assert_refused(capsys, path: Path, fragment: str) -> list[str]:
    status, out, lines = validate(capsys, str(path))
    assert status == 2 and out == ""
    assert lines and all(line.startswith(f"vswitch: {path}") for line in lines), lines  # one line per problem
    assert any(fragment in line for line in lines), lines
    assert peak_bytes(str(path)) < MAX_PEAK_BYTES
    return lines


# -- the corpus -------------------------------------------------------------------------------------------------
#: valid files whose run must still end quickly in bounded memory
RUN_BOUNDED = {"switch-loop.yaml", "replay-far-timestamps.yaml"}
#: what the files above read (replays)
DATA = {"far-timestamps.pcap"}


def test_the_corpus_is_what_this_test_checks():
    assert sorted(p.name for p in HOSTILE.iterdir() if p.suffix != ".md") == sorted([*CORPUS, *RUN_BOUNDED, *DATA])


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_file_is_refused_in_bounded_memory_with_one_line_per_problem(capsys, name):
    assert_refused(capsys, HOSTILE / name, CORPUS[name])


def test_every_problem_of_a_hostile_file_is_one_located_line(capsys):
    lines = assert_refused(capsys, HOSTILE / "capture-absolute.yaml", "'/tmp/all.pcapng' must be a relative path")
    assert [line.split(": ")[1].rsplit("/", 1)[-1] for line in lines] == [
        "capture-absolute.yaml:4:20", "capture-absolute.yaml:4:64"]


# -- generated at run time ----------------------------------------------------------------------------------------
def hypervisors(vm_count: int, per_hypervisor: int = 100) -> str:
    """A valid topology: one switch, hypervisors of ``per_hypervisor`` VMs (with MACs), ``vm_count`` VMs in all."""
    lines = ["name: generated", "switches: [{name: sw1}]", "hypervisors:"]
    links = ["links:"]
    for h in range(-(-vm_count // per_hypervisor)):
        lines.append(f'  - name: hv{h}\n    mac: "02:00:00:00:{h >> 8 & 255:02x}:{h & 255:02x}"\n    vms:')
        for v in range(h * per_hypervisor, min(vm_count, (h + 1) * per_hypervisor)):
            lines.append(f'      - {{name: vm{v}, mac: "52:54:00:{v >> 16 & 255:02x}:{v >> 8 & 255:02x}:'
                         f'{v & 255:02x}"}}')
        links.append(f"  - [hv{h}, sw1.p{h}]")
    return "\n".join(lines + links) + "\n"


def write_chunks(path: Path, head: bytes, filler: bytes, size: int) -> Path:
    """``head`` then ``filler`` repeated up to ``size`` bytes, written without holding the whole file."""
    with open(path, "wb") as out:
        out.write(head)
        left = size - len(head)
        chunk = filler * (2**20 // len(filler))
        while left > 0:
            out.write(chunk[:left])
            left -= len(chunk[:left])
    return path


def test_a_million_vms_written_out_is_refused_by_size(capsys, tmp_path):
    path = tmp_path / "million.yaml"
    with open(path, "w") as out:
        out.write('name: million\nhypervisors:\n  - name: hv1\n    mac: "02:00:00:00:00:aa"\n    vms:\n')
        for start in range(0, 10**6, 10**4):
            out.write("".join(f"      - {{name: vm{v}}}\n" for v in range(start, start + 10**4)))
    assert path.stat().st_size > 20 * 2**20
    assert_refused(capsys, path, "the file is larger than 1048576 bytes (limit file_bytes=1048576; "
                                 "raise it with --limit file_bytes=2097152)")


def test_a_100_mb_string_is_refused_by_size_before_it_is_read(capsys, tmp_path):
    path = write_chunks(tmp_path / "string.yaml", b"name: lab\ndescription: ", b"x", 100 * 10**6)
    assert_refused(capsys, path, "the file is larger than 1048576 bytes")
    text = "description: " + "x" * 100 * 10**6  # and in memory: refused on its length, before encoding it
    tracemalloc.start()
    try:
        with pytest.raises(TopologyFileError, match="larger than 1048576 bytes"):
            load_text(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20  # its UTF-8 encoding would take 100 MB


def test_a_file_of_one_mib_and_one_byte_is_refused_and_passes_with_a_raised_limit(capsys, tmp_path):
    path = write_chunks(tmp_path / "padded.yaml", hypervisors(10).encode(), b"# padding\n", 2**20 + 1)
    assert path.stat().st_size == 2**20 + 1
    assert_refused(capsys, path, "larger than 1048576 bytes (limit file_bytes=1048576")
    status, out, _ = validate(capsys, str(path), "--limit", "file_bytes=2MiB")
    assert status == 0 and "ok (1 switch, 0 hosts, 1 hypervisor, 10 VMs" in out


def test_a_string_over_the_limit_is_refused_and_passes_with_a_raised_limit(capsys, tmp_path):
    path = tmp_path / "long.yaml"
    path.write_text(f"name: long\ndescription: {'x' * 10_001}\n")
    assert_refused(capsys, path, ":2:14: description: string longer than 10000 characters (limit "
                                 "string_chars=10000; raise it with --limit string_chars=20000)")
    assert validate(capsys, str(path), "--limit", "string_chars=10001")[0] == 0


def test_too_many_devices_are_refused_before_they_are_read(capsys, tmp_path):
    path = tmp_path / "devices.yaml"
    path.write_text(hypervisors(10_000))  # 1 switch + 100 hypervisors + 10 000 VMs
    assert_refused(capsys, path, "the file lists 10101 devices (switches, hypervisors, VMs and host NICs), more "
                                 "than 10000 (limit devices=10000; raise it with --limit devices=10101)")
    status, out, lines = validate(capsys, str(path), "--limit", "devices=10101")
    assert status == 0 and "10000 VMs" in out, lines


def test_thousands_of_problems_are_counted_after_the_first_hundred(capsys, tmp_path):
    path = tmp_path / "dups.yaml"
    path.write_text("name: dups\n" + "".join("description: x\n" for _ in range(2000)))
    lines = assert_refused(capsys, path, "duplicate key 'description'")
    assert len(lines) == MAX_SHOWN_PROBLEMS + 1
    assert lines[-1] == f"vswitch: {path}: ... and {1999 - MAX_SHOWN_PROBLEMS} more problems"


def test_99000_unknown_keys_are_each_reported_and_only_the_first_100_get_a_suggestion(capsys, tmp_path,
                                                                                       monkeypatch):
    path = tmp_path / "unknown.yaml"
    path.write_text("name: lab\n" + "".join(f"k{n}: 1\n" for n in range(99_000)))
    assert path.stat().st_size < 2**20
    calls = []
    close_matches = difflib.get_close_matches
    monkeypatch.setattr(difflib, "get_close_matches", lambda *args, **kw: calls.append(1) or close_matches(*args, **kw))
    status, _, lines = validate(capsys, str(path))
    assert status == 2 and len(calls) == MAX_SHOWN_PROBLEMS  # difflib takes about 40 us a key: 4.6 s for all
    assert lines[0] == (f"vswitch: {path}:2:1: k0: unknown key 'k0' (expected one of: captures, description, epoch, "
                        "expect, hosts, hypervisors, links, name, scenario, seed, switches, until)")
    assert lines[-1] == f"vswitch: {path}: ... and {99_000 - MAX_SHOWN_PROBLEMS} more problems"


def run_isolated(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints a JSON object as its last line."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def isolated_cli(argv: list[str]) -> str:
    """Code that runs ``vswitch ARGV`` and prints its exit status, standard output and peak RSS as JSON."""
    return f"""
import contextlib, io, json, resource
from vswitch import cli
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
    status = cli.main({argv!r})
try:  # this process's own peak: ru_maxrss would include the pytest process it was forked from
    with open("/proc/self/status") as status_file:
        peak = next(int(line.split()[1]) for line in status_file if line.startswith("VmHWM:"))
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"status": status, "stdout": out.getvalue(), "max_rss": peak * 1024}}))
"""


@pytest.mark.parametrize("case", ["string", "million", "bomb", "devices"])
def test_peak_memory_of_a_whole_validate_process_stays_bounded(tmp_path, case):
    if case == "string":
        path = write_chunks(tmp_path / "string.yaml", b"description: ", b"x", 100 * 10**6)
    elif case == "million":
        path = write_chunks(tmp_path / "million.yaml", b"hypervisors:\n  - name: hv1\n    vms:\n",
                            b"      - {name: vm}\n", 50 * 10**6)
    elif case == "bomb":
        path = HOSTILE / "alias-bomb.yaml"
    else:
        path = tmp_path / "devices.yaml"
        path.write_text(hypervisors(10_000))
    result = run_isolated(isolated_cli(["validate", str(path)]))
    print(f"\n{case}: exit {result['status']}, peak RSS {result['max_rss'] / 2**20:.0f} MiB")
    assert result["status"] == 2
    assert result["max_rss"] < MAX_PEAK_BYTES


#: what each valid but hostile file's run does, in all: the work is bounded by the file, not by the machine
RUN_BOUNDED_SUMMARY = {
    # the broadcast goes round the loop until the storm bound drops it: 33 copies, not forever (its source
    # flapping between the loop's ports at each lap: 64 MAC moves)
    "switch-loop.yaml": {"frames_sent": 1, "copies_made": 33, "delivered": 32, "dropped": 2, "in_flight": 0,
                         "virtual_time": "0s", "virtual_time_ns": 0, "drops_by_reason": {"storm_limit": 2},
                         "mac_moves": 64, "expectations_passed": 0, "expectations_failed": 0},
    # two frames years apart in the capture, replayed one second apart (with a warning), not years
    "replay-far-timestamps.yaml": {"frames_sent": 2, "copies_made": 0, "delivered": 2, "dropped": 0, "in_flight": 0,
                                   "virtual_time": "1s", "virtual_time_ns": 10**9, "drops_by_reason": {}, "warnings": 1,
                                   "mac_moves": 0,
                                   "expectations_passed": 0, "expectations_failed": 0},
}


@pytest.mark.parametrize("name", sorted(RUN_BOUNDED))
def test_a_valid_but_hostile_file_runs_to_its_end_in_bounded_work_and_memory(tmp_path, name):
    result = run_isolated(isolated_cli(["run", str(HOSTILE / name), "--out", str(tmp_path), "--format", "json"]))
    print(f"\n{name}: run exit {result['status']}, peak RSS {result['max_rss'] / 2**20:.0f} MiB")
    assert result["status"] == 0
    assert json.loads(result["stdout"])["summary"] == RUN_BOUNDED_SUMMARY[name]
    assert result["max_rss"] < MAX_PEAK_BYTES


# -- the file system: folders, FIFOs, /proc, a full disk ----------------------------------------------------------
PACKAGE_PARENT = Path(vswitch.__file__).resolve().parent.parent  # the source tree, or site-packages


def vswitch_process(*argv: str, cwd: Path, max_file_bytes: int | None = None) -> subprocess.CompletedProcess:
    """``python -m vswitch ARGV`` in a fresh process that must end within HANG_GUARD_S: a hang fails the test instead of
    blocking it. ``max_file_bytes``: the process cannot write a file past that size (RLIMIT_FSIZE), as on a full
    disk."""
    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))
    return subprocess.run([sys.executable, "-m", "vswitch", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=HANG_GUARD_S, preexec_fn=limit_files if max_file_bytes else None,
                          env={**os.environ, "PYTHONPATH": str(PACKAGE_PARENT), "PYTHONDONTWRITEBYTECODE": "1"})


TWO_HOSTS = """name: two
hosts: [{name: h1, mac: "02:00:00:00:00:01"}, {name: h2, mac: "02:00:00:00:00:02"}]
links: [[h1, h2]]
captures:
  points:
    - h1
    - h2
scenario:
  - stream: {from: h1, to: h2, count: 5000, rate: 1000pps, size: 200}
"""


def test_a_fifo_at_a_capture_path_is_refused_without_waiting_for_a_reader(tmp_path):
    lab, out = tmp_path / "lab.yaml", tmp_path / "out"
    lab.write_text(TWO_HOSTS)
    out.mkdir()
    os.mkfifo(out / "h1.pcap")
    done = vswitch_process("run", str(lab), "--out", str(out), cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"vswitch: {lab}:6:7: captures.points[0]: cannot create capture file {out}/h1.pcap: a FIFO (named pipe) is in "
        "the way (a capture is written only as a new regular file): remove it or write elsewhere"]
    assert stat.S_ISFIFO(os.lstat(out / "h1.pcap").st_mode)


def test_out_naming_a_file_or_a_place_under_proc_is_a_one_line_user_error(capsys, tmp_path):
    lab, file = tmp_path / "lab.yaml", tmp_path / "file"
    lab.write_text(TWO_HOSTS)
    file.write_text("not a folder")
    for out, line in [
            (file, f"vswitch: output folder {file}: {file} is a regular file, not a folder: choose another with --out"),
            (file / "sub", f"vswitch: output folder {file}/sub: {file} is a regular file, not a folder: choose another "
                           "with --out"),
            (Path("/proc/vswitch-out"), "vswitch: output folder /proc/vswitch-out: cannot make /proc/vswitch-out: "),
            (Path("/proc/self"), f"vswitch: {lab}: captures.pcapng: cannot create capture file /proc/")]:
        if out.parts[1] == "proc" and not Path("/proc/self").is_dir():
            continue
        assert cli.main(["run", str(lab), "--out", str(out), "--quiet"]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and len(captured.err.splitlines()) == 1
        assert captured.err.startswith(line), captured.err
    assert file.read_text() == "not a folder"


def test_a_full_disk_leaves_every_capture_ending_on_a_whole_record_and_names_the_files(tmp_path):
    lab, out = tmp_path / "lab.yaml", tmp_path / "out"
    lab.write_text(TWO_HOSTS)
    limit = 300_000  # the pcaps reach 1 MB, the pcapng 2.6 MB
    done = vswitch_process("run", str(lab), "--out", str(out), "--quiet", cwd=tmp_path, max_file_bytes=limit)
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    named = {}
    for line in done.stderr.splitlines():
        match = re.fullmatch(rf"vswitch: {re.escape(str(lab))}(?::\d+:\d+)?: captures\.(?:pcapng|points\[\d\]): "
                             r"cannot write capture file (\S+): File too large; it was cut back to its last whole "
                             r"record \((\d+) bytes\): free some space, or write elsewhere with --out", line)
        assert match, line
        named[match[1]] = int(match[2])
    assert str(out / "all.pcapng") in named
    for path in out.iterdir():
        assert path.stat().st_size == named.get(str(path), path.stat().st_size) <= limit
        with CaptureReader(path) as reader:
            assert sum(1 for _ in reader) > 100 and reader.stop is None, path


REPLAY = """name: replay
hosts: [{name: h1, mac: "02:00:00:00:00:01"}, {name: h2, mac: "02:00:00:00:00:02"}]
links: [[h1, h2]]
scenario:
  - replay: {file: FILE, from: h1}
"""


@pytest.mark.parametrize("kind", ["fifo", "proc-mem"])
def test_a_fifo_or_a_proc_file_as_replay_file_is_refused_by_validate_and_run_without_waiting(tmp_path, kind):
    lab = tmp_path / "lab.yaml"
    lab.write_text(REPLAY.replace("FILE", "capture.pcap"))
    if kind == "fifo":
        os.mkfifo(tmp_path / "capture.pcap")  # opened, it would wait for a writer forever
        reason = f"{tmp_path}/capture.pcap is a FIFO (named pipe), not a capture file: replay a pcap or pcapng file"
    else:
        if not Path("/proc/self/mem").exists():
            pytest.skip("no /proc")
        (tmp_path / "capture.pcap").symlink_to("/proc/self/mem")  # read, it fails with EIO
        reason = f"{tmp_path}/capture.pcap (it links to /proc/self/mem) is empty (0 bytes): not a pcap or pcapng file"
    run = ["run", str(lab), "--out", str(tmp_path / "out")]
    for argv in (["validate", str(lab)], run):
        done = vswitch_process(*argv, cwd=tmp_path)
        assert (done.returncode, done.stdout) == (2, "")
        assert done.stderr.splitlines() == [f"vswitch: {lab}:5:20: scenario[0].replay.file: {reason}"], argv
    assert not (tmp_path / "out").exists()


def remove_chain(top: Path, name: str) -> None:
    """Remove ``top/name/name/.../name`` and the files at its bottom without recursion (shutil.rmtree recurses, so
    pytest could not clean it up) and without long paths: lift each level up to ``top`` and remove the one above."""
    chain, lifted = top / name, top / f"{name}.up"
    while chain.is_dir():
        below = chain / name
        if below.is_dir():
            os.rename(below, lifted)
            chain.rmdir()
            os.rename(lifted, chain)
        else:
            for path in chain.iterdir():
                path.unlink()
            chain.rmdir()


def test_a_capture_path_hundreds_of_folders_deep_is_made_without_recursion(tmp_path):
    net = Network(capture_dir=tmp_path)
    net.add_host("h1", "02:00:00:00:00:01")
    deep = "d/" * 400 + "h1.pcap"  # pathlib's mkdir(parents=True) recursed once per folder
    long = ("e" * 250 + "/") * 20 + "h1.pcap"  # longer than a path may be (4096 bytes)
    limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(300)  # 2000 folders deep overflowed the default limit; 400 overflow this one
        try:
            path = net.capture("h1", deep)
        finally:
            sys.setrecursionlimit(limit)
        assert path == str(tmp_path / deep)
        with pytest.raises(VSwitchError, match="cannot make the folder .*: File name too long$"):
            net.capture("h1", long)
        net.close()
        assert (tmp_path / deep).stat().st_size == 24
    finally:
        net.close()
        remove_chain(tmp_path, "d")
        remove_chain(tmp_path, "e" * 250)


# -- every file, validated and run: no traceback, no hang, nothing written outside the output folder --------------
EVERY_FILE = """
import contextlib, io, json, signal, sys, traceback
from vswitch import cli


def hung(*_):
    raise TimeoutError("no answer within 30 s")


signal.signal(signal.SIGALRM, hung)
for path, out in json.loads(sys.argv[1]):
    for argv in (["validate", path], ["run", path, "--out", out, "--quiet"]):
        stdout, stderr = io.StringIO(), io.StringIO()
        signal.alarm(30)  # a blocking open() is interrupted too
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                status = cli.main(argv)
        except BaseException:
            status = traceback.format_exc()
        finally:
            signal.alarm(0)
        print(json.dumps([argv[0], path, status, stderr.getvalue()]), flush=True)
"""


def tree(folder: Path) -> dict[str, tuple]:
    """Every path under ``folder`` (links not followed) with its type, size and modification time."""
    return {str(p.relative_to(folder)): (p.lstat().st_mode, p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in folder.rglob("*")}


def test_every_hostile_file_validates_and_runs_without_traceback_hang_or_a_file_outside_the_output_folder(tmp_path):
    generated = tmp_path / "generated"  # what cannot be committed: a FIFO, a link into /proc
    generated.mkdir()
    os.mkfifo(generated / "fifo.pcap")
    (generated / "replay-fifo.yaml").write_text(REPLAY.replace("FILE", "fifo.pcap"))
    if Path("/proc/self/mem").exists():
        (generated / "mem.pcap").symlink_to("/proc/self/mem")
        (generated / "replay-proc-mem.yaml").write_text(REPLAY.replace("FILE", "mem.pcap"))
    inputs = sorted(HOSTILE.iterdir()) + sorted(generated.glob("*.yaml"))
    cwd, out = tmp_path / "cwd", tmp_path / "out"
    cwd.mkdir()
    before = {folder: tree(folder) for folder in (HOSTILE, generated, cwd)}
    jobs = [(str(path), str(out / f"{index}-{path.name}")) for index, path in enumerate(inputs)]
    done = subprocess.run([sys.executable, "-c", EVERY_FILE, json.dumps(jobs)], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(PACKAGE_PARENT)})
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(command, path) for command, path, _, _ in results] == [
        (command, path) for path, _ in jobs for command in ("validate", "run")]
    validated = {}
    for (command, path, status, err), (_, folder) in zip(results, [job for job in jobs for _ in range(2)]):
        assert isinstance(status, int), f"{command} {path}: {status}"  # not a traceback
        assert "Traceback" not in err, f"{command} {path}: {err}"
        if command == "validate":
            validated[path] = status
            assert status in (0, 2), path
        else:  # a file validate refuses writes nothing; one it passes runs to its end
            assert status == validated[path] or (validated[path] == 0 and status == 1), (path, status, err)
            assert (status == 2) == (not Path(folder).exists()), path
        assert (status == 2) == bool(err.strip()), (command, path, err)
    assert {folder: tree(folder) for folder in (HOSTILE, generated, cwd)} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "generated"] + (["out"] if out.exists() else [])


# -- raising a limit deliberately -------------------------------------------------------------------------------
def hosts_with_groups(hosts: int, groups: int) -> str:
    """``hosts`` hosts that all join the same ``groups`` multicast groups, listed once and then by alias."""
    macs = ", ".join(f'"01:00:5e:00:{g >> 8:02x}:{g & 255:02x}"' for g in range(groups))
    lines = ["name: groups", "hosts:", f'  - {{name: h0, mac: "02:00:00:00:00:00", groups: &g [{macs}]}}']
    lines += [f'  - {{name: h{h}, mac: "02:00:00:00:{h >> 8:02x}:{h & 255:02x}", groups: *g}}' for h in range(1, hosts)]
    return "\n".join(lines) + "\n"


BORDERLINE = {  # limit -> (file text, the flag that makes it pass)
    "nodes": (hosts_with_groups(100, 2000), "nodes=250000"),  # 200 700 values once the 99 aliases are expanded
    "aliases": (hosts_with_groups(102, 2), "aliases=101"),
    "frames": ('name: f\nhosts: [{name: h1, mac: "02:00:00:00:00:01"}, {name: h2, mac: "02:00:00:00:00:02"}]\n'
               "scenario:\n  - stream: {from: h1, to: h2, count: 10000001}\n", "frames=10000001"),
    "time": ("name: t\nuntil: 25h\n", "time=25h"),
}


@pytest.mark.parametrize("limit", sorted(BORDERLINE))
def test_a_borderline_file_passes_with_its_limit_raised(capsys, tmp_path, limit):
    text, flag = BORDERLINE[limit]
    path = tmp_path / f"{limit}.yaml"
    path.write_text(text)
    assert_refused(capsys, path, f"(limit {limit}=")
    status, out, lines = validate(capsys, str(path), "--limit", flag)
    assert status == 0 and out.startswith(f"{path}: ok"), lines


def test_raising_the_depth_limit_lets_the_reader_go_on_to_the_next_problem(capsys, tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("name: deep\nhosts: " + "[" * 40 + "]" * 40 + "\n")
    assert_refused(capsys, path, ":2:39: nested deeper than 32 levels (limit depth=32; raise it with --limit depth=64)")
    status, _, lines = validate(capsys, str(path), "--limit", "depth=64")
    assert status == 2 and lines == [f"vswitch: {path}:2:9: hosts[0]: expected a mapping, got a list"]


def test_the_depth_limit_cannot_be_raised_to_where_libyaml_stops(capsys):
    status, _, lines = validate(capsys, str(HOSTILE / "deep-nesting.yaml"), "--limit", "depth=6000")
    assert status == 2 and lines == [
        "vswitch: --limit depth=6000: the depth limit can be at most 999: libyaml, the parser inside PyYAML, "
        "refuses to nest 1000 levels deep (a topology needs about 6)"]
    status, _, lines = validate(capsys, str(HOSTILE / "deep-nesting.yaml"), "--limit", "depth=999")
    assert status == 2 and lines == [f"vswitch: {HOSTILE / 'deep-nesting.yaml'}:3:1006: nested deeper than 999 "
                                     "levels (limit depth=999, as high as it goes)"]


def test_limit_flags_are_accepted_by_run_show_and_explain(capsys, tmp_path):
    path = tmp_path / "day.yaml"
    path.write_text('name: day\nuntil: 25h\nhosts: [{name: h1, mac: "02:00:00:00:00:01"}, '
                    '{name: h2, mac: "02:00:00:00:00:02"}]\nlinks: [[h1, h2]]\n'
                    "scenario:\n  - at: 25h\n    send: {from: h1, to: h2, name: late}\n")
    for argv in (["run", str(path), "--out", str(tmp_path / "out"), "--quiet"], ["show", str(path)],
                 ["explain", str(path), "late"]):
        assert cli.main(argv) == 2
        assert "(limit time=24h; raise it with --limit time=25h)" in capsys.readouterr().err
        assert cli.main([*argv, "--limit", "time=25h"]) == 0, capsys.readouterr().err
    assert "delivered to h2.eth0" in capsys.readouterr().out


def test_an_unknown_or_malformed_limit_is_a_one_line_error(capsys):
    path = str(HOSTILE / "switch-loop.yaml")
    status, _, lines = validate(capsys, path, path, "--limit", "loop=1")
    assert status == 2 and lines == [
        "vswitch: unknown limit 'loop' in --limit loop=1 (limits: file_bytes, depth, aliases, nodes, string_chars, "
        "devices, frames, time)"]
    assert validate(capsys, path, path, "--limit", "frame=1")[2] == [
        "vswitch: unknown limit 'frame' in --limit frame=1 (did you mean 'frames'? limits: file_bytes, depth, "
        "aliases, nodes, string_chars, devices, frames, time)"]
    assert validate(capsys, path, "--limit", "depth")[2] == ["vswitch: --limit depth: write NAME=VALUE, e.g. "
                                                             "--limit depth=64"]
    assert validate(capsys, path, "--limit", "time=soon")[2] == [
        "vswitch: --limit time=soon: invalid duration 'soon': write a number and a unit, e.g. 300s, 50ms or 5us"]
    assert validate(capsys, path, "--limit", "frames=-1")[2] == [
        "vswitch: --limit frames=-1: a limit cannot be negative, got -1"]


def test_limits_are_parsed_in_their_own_units():
    limits = Limits().raised(["file_bytes=4MiB", "time=2d", "nodes=1_000_000", "devices=3", "time=36h"])
    assert (limits.max_file_bytes, limits.max_time_ns, limits.max_nodes, limits.max_devices) == (
        4 * 2**20, 36 * 3600 * 10**9, 1_000_000, 3)
    assert Limits().raised(["time=2d"]).max_time_ns == 2 * 86_400 * 10**9
    assert list(LIMITS) == ["file_bytes", "depth", "aliases", "nodes", "string_chars", "devices", "frames", "time"]


def test_the_limits_table_is_every_limit_in_order_with_its_default():
    text = (Path(__file__).parent.parent / "docs" / "limits.md").read_text()
    rows = table_rows(text.split("\n## The limits\n")[1].split("\n## ")[0], "name")
    defaults = Limits()
    assert [(row[0], row[1].split(" (")[0]) for row in rows] == [
        (f"`{name}`", limit.show(getattr(defaults, limit.field))) for name, limit in LIMITS.items()]
    assert all(len(row) == 4 and row[2] and row[3] for row in rows)  # its value's form and what it counts


# -- big but legitimate ---------------------------------------------------------------------------------------------
def test_a_thousand_vm_topology_loads_and_validates(capsys, tmp_path):
    path = tmp_path / "thousand.yaml"
    path.write_text(hypervisors(1000))
    spec = load_topology(path)
    status, out, lines = validate(capsys, str(path))
    assert sum(len(hv.vms) for hv in spec.hypervisors) == 1000
    assert status == 0 and "1000 VMs" in out, lines
