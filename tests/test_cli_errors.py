"""The error contract of every command (README, Commands; ``vswitch --help``): a mistake exits 2, prints nothing on
stdout and one line per problem on stderr, ``vswitch: ...``, naming what to fix; a bug keeps its traceback.

The bad inputs are made from each command's own arguments, read from the parser: a new command, or a new argument
of a kind known here, is walked without editing this file, and an argument of a new kind fails
``test_every_argument_is_of_a_kind_this_test_knows`` until it is given bad inputs here.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

import vswitch
from vswitch import cli
from vswitch.cli import EXAMPLE, build_parser
from vswitch.topology.limits import LIMITS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_FILE = str(ROOT / EXAMPLE)
EXAMPLE_NAMES = "h1-to-vm1, vm1-to-h1, vm1-to-vm2, vm2-to-h1"  # its send actions, sorted
TWO_PROBLEMS = 'switches: sw1\nhosts:\n  - name: h1\n    mac: 1\n'
NO_PROC = not Path("/proc/self").is_dir()
HAS_NS3 = importlib.util.find_spec("ns") is not None  # ns-3's Python bindings, for bench --ns3
#: The bench --ns3 mistakes found after the interpreter is checked need one that has ns-3's bindings
NS3_PYTHON = os.environ.get("VSWITCH_NS3_PYTHON") or (sys.executable if HAS_NS3 else None)
NEEDS_NS3 = pytest.mark.skipif(NS3_PYTHON is None, reason="no Python with ns-3's bindings (VSWITCH_NS3_PYTHON)")


def subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]


def kind(action: argparse.Action) -> str | None:
    """What an argument holds, from how it is declared (None: a kind this test has no bad inputs for)."""
    if action.nargs == 0:
        return "flag"
    if action.choices:
        return "choice"
    if action.dest in ("file", "files") or action.metavar == "FILE":
        return "topology file"
    if action.dest == "frame":
        return "frame"
    if action.dest == "prefix":
        return "text"
    if action.type is int or getattr(action.type, "__name__", "") == "_at_least_one":
        return "count"
    return {"TIME": "duration", "NAME=VALUE": "limit", "DIR": "folder", "TOPOLOGY_DIR": "topology folder",
            "EXTCAP_DIR": "extcap folder", "PATH": "output file", "FOLDER": "output folder",
            "PYTHON": "interpreter"}.get(action.metavar or "")


def name(action: argparse.Action) -> str:
    """How argparse names the argument in its messages."""
    return "/".join(action.option_strings) or action.metavar or action.dest


# -- the bad inputs: (argument value, the lines stderr must hold, each a regular expression) -----------------------
@dataclass
class Place:
    """A folder holding the files the bad inputs name; ``command`` and ``argument`` are the ones being walked."""

    tmp: Path
    command: str
    argument: str

    def help(self) -> str:
        return re.escape(f"; see vswitch {self.command} --help")


def _file(place: Place, name: str, text: str) -> Path:
    path = place.tmp / name
    path.write_text(text)
    return path


def _script(place: Place, name: str, text: str) -> Path:
    path = _file(place, name, text)
    path.chmod(0o755)
    return path


def _fifo(place: Place) -> Path:
    os.mkfifo(place.tmp / "fifo.yaml")  # reading it would wait for a writer forever
    return place.tmp / "fifo.yaml"


Bad = Callable[[Place], tuple[str, list[str]]]
E = re.escape
BAD: dict[str, dict[str, Bad]] = {
    "topology file": {
        "missing": lambda p: (str(p.tmp / "missing.yaml"),
                              [E(f"vswitch: {p.tmp / 'missing.yaml'}: no such file") + r"( \(.+\))?"]),
        "folder": lambda p: (str(p.tmp), [E(f"vswitch: {p.tmp}: a folder with no *.yaml files: name topology files "
                                            "or a folder of them") if p.command in ("validate", "run")  # a folder of files
                                          else E(f"vswitch: {p.tmp}: is a folder, not a topology file")]),
        "FIFO": lambda p: (str(_fifo(p)), [E(f"vswitch: {p.tmp / 'fifo.yaml'}: is a FIFO (named pipe), not a "
                                             "topology file")]),
        "broken YAML": lambda p: (str(_file(p, "broken.yaml", "name: lab\nhosts: [\n")),
                                  [E(f"vswitch: {p.tmp / 'broken.yaml'}:3:1: did not find expected node content")]),
        "two problems": lambda p: (str(_file(p, "two.yaml", TWO_PROBLEMS)), [
            E(f"vswitch: {p.tmp / 'two.yaml'}:1:11: switches: expected a list, got 'sw1'"),
            E(f"vswitch: {p.tmp / 'two.yaml'}:4:10: hosts[0].mac: expected a MAC address as text, got 1: write it in "
              'quotes, e.g. mac: "52:54:00:12:34:56"')]),
    },
    "duration": {
        "no unit": lambda p: ("10", [E(f"vswitch: argument {p.argument}: 10 has no unit: write 10s, 10ms, 10us or "
                                       "10ns") + p.help()]),
        "negative": lambda p: ("-1ms", [E(f"vswitch: argument {p.argument}: expected one argument") + p.help()]),
        "unknown unit": lambda p: ("10m", [E(f"vswitch: argument {p.argument}: ") + ".*'10m'.*" + p.help()]),
    },
    "limit": {
        "unknown": lambda p: ("nolimit=1", [E(f"vswitch: unknown limit 'nolimit' in --limit nolimit=1 (limits: "
                                              f"{', '.join(LIMITS)})")]),
        "not a number": lambda p: ("frames=many", [E("vswitch: --limit frames=many: expected a whole number, got "
                                                     "'many'")]),
        "no value": lambda p: ("frames", [E("vswitch: --limit frames: write NAME=VALUE, e.g. --limit frames=") +
                                          r"\d+"]),
    },
    "folder": {
        "a file": lambda p: (str(_file(p, "file", "")), [E(f"vswitch: output folder {p.tmp / 'file'}: "
                                                           f"{p.tmp / 'file'} is a regular file, not a folder: "
                                                           "choose another with --out")]),
        "under a file": lambda p: (str(_file(p, "file", "") / "sub"), [E(
            f"vswitch: output folder {p.tmp / 'file' / 'sub'}: {p.tmp / 'file'} is a regular file, not a folder: "
            "choose another with --out")]),
        **({} if NO_PROC else {"under /proc": lambda p: ("/proc/vswitch-out", [
            E("vswitch: output folder /proc/vswitch-out: cannot make /proc/vswitch-out: ") + r"[^:]+" +
            E(": choose another with --out")])}),
    },
    "output file": {
        "a folder": lambda p: (str(p.tmp), [E(f"vswitch: {p.argument} {p.tmp}: is a folder; give a file name, e.g. "
                                              f"{p.tmp / 'report.html'}")]),
        "in no folder": lambda p: (str(p.tmp / "none" / "x.html"), [E(
            f"vswitch: {p.argument} {p.tmp / 'none' / 'x.html'}: no folder {p.tmp / 'none'}; make it first or "
            "choose another")]),
    },
    "output folder": {
        "a file": lambda p: (str(_file(p, "file", "")), [E(f"vswitch: {p.argument} {p.tmp / 'file'}: "
                                                           f"{p.tmp / 'file'} is a file, not a folder; choose a folder")]),
        "under a file": lambda p: (str(_file(p, "file", "") / "sub"), [E(
            f"vswitch: {p.argument} {p.tmp / 'file' / 'sub'}: {p.tmp / 'file'} is a file, not a folder; choose a "
            "folder")]),
    },
    "topology folder": {
        "missing": lambda p: (str(p.tmp / "gone"), [E(f"vswitch: topologies folder {p.tmp / 'gone'}: no such folder")]),
        "a file": lambda p: (str(_file(p, "file", "")), [E(f"vswitch: topologies folder {p.tmp / 'file'}: "
                                                           f"{p.tmp / 'file'} is not a folder")]),
    },
    "extcap folder": {
        "a file": lambda p: (str(_file(p, "file", "")), [E(f"vswitch: extcap folder {p.tmp / 'file'}: "
                                                           f"{p.tmp / 'file'} is not a folder")]),
        "under a file": lambda p: (str(_file(p, "file", "") / "sub"), [E(
            f"vswitch: extcap folder {p.tmp / 'file' / 'sub'}: {p.tmp / 'file'} is not a folder")]),
    },
    "frame": {
        "never sent": lambda p: ("999", [E(f"vswitch: {EXAMPLE_FILE}: no frame 999: the run sent frames 1 to 4 "
                                           f"(named frames: {EXAMPLE_NAMES})")]),
        "zero": lambda p: ("0", [E(f"vswitch: {EXAMPLE_FILE}: no frame 0: the run sent frames 1 to 4 (named frames: "
                                   f"{EXAMPLE_NAMES})")]),
        "unknown name": lambda p: ("vm9-to-h1", [E(f"vswitch: {EXAMPLE_FILE}: no frame named 'vm9-to-h1' (named "
                                                   f"frames: {EXAMPLE_NAMES}; or give NAME#N, the N-th frame of a name, "
                                                   "or a frame number)")]),
    },
    "count": {
        "not a number": lambda p: ("many", [E(f"vswitch: argument {p.argument}: ") + ".*'many'" + p.help()]),
    },
    "choice": {
        "unknown": lambda p: ("bogus", [E(f"vswitch: argument {p.argument}: invalid choice: 'bogus' (choose from ") +
                                        r"[^)]+\)" + p.help()]),
    },
    "interpreter": {
        "missing": lambda p: (str(p.tmp / "python"), [E(f"vswitch: {p.argument} {p.tmp / 'python'}: no such file; "
                                                        "give the python of an environment with ns-3, e.g. "
                                                        "/tmp/venv-ns3/bin/python")]),
        "a folder": lambda p: (str(p.tmp), [E(f"vswitch: {p.argument} {p.tmp}: is a folder; give the python inside "
                                              f"it, e.g. {p.tmp / 'bin' / 'python'}")]),
        "not executable": lambda p: (str(_file(p, "python", "")), [E(
            f"vswitch: {p.argument} {p.tmp / 'python'}: cannot run it as a Python interpreter ([Errno 13] "
            f"Permission denied: '{p.tmp / 'python'}')")]),
        "not a python": lambda p: (str(_script(p, "python", "#!/bin/sh\nexit 1\n")), [E(
            f"vswitch: {p.argument} {p.tmp / 'python'}: not a Python interpreter that runs (it exited with status 1 "
            "when asked to look for ns)")]),
        **({} if HAS_NS3 else {"without ns-3": lambda p: (sys.executable, [E(
            f"vswitch: {p.argument} {sys.executable}: that interpreter cannot import ns (ns-3's Python bindings): "
            f"install them with {sys.executable} -m pip install ns3 (a 69 MB wheel: ns-3 3.44 for CPython 3.11 on "
            "x86-64 Linux)")])}),
    },
    "flag": {},
    "text": {},  # any text is a name prefix
}


def good_value(action: argparse.Action, tmp: Path) -> list[str] | None:
    """A value that works, for the arguments a command needs (and counts kept small); None: leave it out."""
    if action.option_strings and kind(action) == "count":
        return [action.option_strings[0], "1"]
    if action.option_strings and kind(action) == "folder":
        return [action.option_strings[0], str(tmp / "out")]
    if action.option_strings:
        return None
    if kind(action) == "choice":
        return [list(action.choices or ())[0]]
    return {"topology file": [EXAMPLE_FILE], "frame": ["vm1-to-h1"]}.get(kind(action) or "")


def argv_with(command: str, tmp: Path, bad: str = "", value: str | None = None) -> list[str]:
    """``command`` with good values for what it needs, and ``value`` for the argument named ``bad`` (left out if
    None)."""
    argv = [command]
    for action in arguments(subcommands()[command]):
        if name(action) != bad:
            argv += good_value(action, tmp) or []
        elif value is not None:
            argv += [action.option_strings[0], value] if action.option_strings else [value]
    return argv


# -- the walk -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    command: str
    argument: str  # its name in messages; "" for a bad input of the command line as a whole
    bad: str

    def __str__(self) -> str:
        return f"{self.command} {self.argument or '-'} {self.bad}"


def cases() -> list[Case]:
    out = []
    for command, parser in subcommands().items():
        out.append(Case(command, "", "unknown option"))
        if any(not a.option_strings and a.required for a in arguments(parser)):
            out.append(Case(command, "", "nothing given"))
        for action in arguments(parser):
            out += [Case(command, name(action), bad) for bad in BAD.get(kind(action) or "", ())]
            if action.option_strings and action.nargs is None:
                out.append(Case(command, name(action), "value missing"))
    return out


CASES = cases()
EXTRA = [  # bad inputs the kinds above do not make: (argv, the line on stderr)
    pytest.param(["bench", "lan8", "-n", "0"], "vswitch: argument -n/--frames: must be at least 1, got 0; see vswitch "
                 "bench --help", id="bench -n 0"),
    pytest.param(["bench", "lan8", "--repeat", "-2"], "vswitch: argument --repeat: must be at least 1, got -2; see "
                 "vswitch bench --help", id="bench --repeat -2"),
    pytest.param(["run", EXAMPLE_FILE, "--jobs", "0"], "vswitch: argument -j/--jobs: must be at least 1, got 0; see "
                 "vswitch run --help", id="run --jobs 0"),
    pytest.param(["run", EXAMPLE_FILE, "--until=-1ms"], "vswitch: argument --until: invalid duration '-1ms': must not "
                 "be negative; see vswitch run --help", id="run --until=-1ms"),
    pytest.param(["bench", "lan9"], "vswitch: argument workload: invalid choice: 'lan9' (choose from 'lan8', 'vnic', "
                 "'vnic-io', 'udp8', 'naive', 'big10k', 'flood1k', 'echo8', 'ping8', 'all'); see vswitch bench --help",
                 id="bench lan9"),
    pytest.param(["bench", "--live", "lan8"], "vswitch: bench --live measures real namespaces through vswitch live and "
                 "a Linux bridge: give it no workload and no --topology", id="bench --live lan8"),
    pytest.param(["bench", "vnic", "--ns3"], "vswitch: bench --ns3: ns-3 has counterparts of lan8 and udp8 only, not "
                 "vnic: vswitch bench lan8 --ns3, vswitch bench udp8 --ns3, or vswitch bench --ns3 for both",
                 id="bench vnic --ns3"),
    pytest.param(["bench", "--ns3", "--topology", EXAMPLE_FILE], "vswitch: bench --ns3 compares the standard lan8 and "
                 "udp8 with their ns-3 counterparts: give it no --topology", id="bench --ns3 --topology"),
    pytest.param(["bench", "lan8", "--ns3-python", NS3_PYTHON or "", "-n", "56"], "vswitch: bench --ns3: -n 56 is too few: ns-3 leaves its "
                 "first 56 frames (one round of the pattern, as vswitch's udp8 does) out of the timing; give -n "
                 "100000 or so", id="bench --ns3 -n 56", marks=NEEDS_NS3),
    pytest.param(["bench", "--ns3"],
                 f"vswitch: bench --ns3: this interpreter ({sys.executable}) cannot import ns: install ns-3's Python "
                 "bindings in an environment of their own (python3 -m venv /tmp/venv-ns3 && /tmp/venv-ns3/bin/pip "
                 "install ns3: a 69 MB wheel: ns-3 3.44 for CPython 3.11 on x86-64 Linux) and pass --ns3-python "
                 "/tmp/venv-ns3/bin/python", id="bench --ns3 without ns-3",
                 marks=pytest.mark.skipif(HAS_NS3, reason="this interpreter has ns-3's bindings")),
    pytest.param(["bench", "--live", "--ns3"], "vswitch: bench --live and bench --ns3 are separate measurements: run "
                 "one, then the other", id="bench --live --ns3"),
    pytest.param(["io-check", "emulated", "-n", "5"], "vswitch: --pings must be more than 10 (the shorter run's), "
                 "got 5", id="io-check -n 5"),
    pytest.param([], "vswitch: the following arguments are required: COMMAND; see vswitch --help", id="no command"),
    pytest.param(["bogus"], "vswitch: argument COMMAND: invalid choice: 'bogus' (choose from " +
                 ", ".join(repr(c) for c in subcommands()) + "); see vswitch --help", id="unknown command"),
]


def assert_user_error(argv: list[str], expected: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """``vswitch ARGV`` exits 2 with nothing on stdout and exactly the lines ``expected`` (regular expressions)."""
    capsys.readouterr()
    status = cli.main(argv)
    out, err = capsys.readouterr()
    assert (status, out) == (2, ""), (argv, err)
    lines = err.splitlines()
    assert len(lines) == len(expected), (argv, err)  # one line per problem
    for line, pattern in zip(lines, expected):
        assert re.fullmatch(pattern, line), (argv, line, pattern)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_every_bad_input_of_every_command_is_one_line_per_problem_and_status_2(case, tmp_path, capsys):
    parser = subcommands()[case.command]
    action = next((a for a in arguments(parser) if name(a) == case.argument), None)
    if case.bad == "unknown option":
        argv, expected = argv_with(case.command, tmp_path) + ["--bogus"], [
            E("vswitch: unrecognized arguments: --bogus; see vswitch --help")]
    elif case.bad == "nothing given":
        argv, expected = [case.command], [E("vswitch: the following arguments are required: ") + r"\S.*" +
                                          E(f"; see vswitch {case.command} --help")]
    elif case.bad == "value missing":
        argv = argv_with(case.command, tmp_path, case.argument) + [action.option_strings[0]]
        expected = [E(f"vswitch: argument {case.argument}: expected one argument; see vswitch {case.command} --help")]
    else:
        value, expected = BAD[kind(action)][case.bad](Place(tmp_path, case.command, case.argument))
        argv = argv_with(case.command, tmp_path, case.argument, value)
    assert_user_error(argv, expected, capsys)


@pytest.mark.parametrize("argv, line", EXTRA)
def test_other_bad_command_lines_are_one_line_and_status_2(argv, line, capsys):
    assert_user_error(argv, [E(line)], capsys)


def test_every_command_is_walked_with_bad_input_for_each_of_its_arguments():
    walked = {(c.command, c.argument) for c in CASES}
    for command, parser in subcommands().items():
        assert (command, "") in walked
        for action in arguments(parser):
            assert kind(action) in ("flag", "text") or (command, name(action)) in walked, (command, name(action))


def test_every_argument_is_of_a_kind_this_test_knows():
    unknown = [(command, name(a)) for command, parser in subcommands().items() for a in arguments(parser)
               if kind(a) is None]
    assert unknown == [], "give these arguments a kind and bad inputs in BAD"


def test_a_capture_the_bench_worker_cannot_create_is_one_line(tmp_path, capsys):
    (tmp_path / "lan8").mkdir()
    os.mkfifo(tmp_path / "lan8" / "h1.pcap")
    assert_user_error(["bench", "lan8", "-n", "1", "--out", str(tmp_path)], [
        r"vswitch: \S+lan8\.yaml:\d+:\d+: captures\.points\[0\]: " + E(f"cannot create capture file {tmp_path}/lan8/"
                                                                        "h1.pcap: a FIFO (named pipe) is in the way ")
        + r".*"], capsys)


def test_a_bug_keeps_its_traceback(monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "render_show", broken)
    with pytest.raises(ZeroDivisionError, match="a bug"):
        cli.main(["show", EXAMPLE_FILE])


def test_the_process_prints_the_line_and_exits_2(tmp_path):
    """The same through ``python -m vswitch``: what a shell sees."""
    done = subprocess.run([sys.executable, "-m", "vswitch", "explain", EXAMPLE_FILE, "999"], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(Path(vswitch.__file__).resolve().parents[1])})
    assert (done.returncode, done.stdout, done.stderr) == (
        2, "", f"vswitch: {EXAMPLE_FILE}: no frame 999: the run sent frames 1 to 4 (named frames: {EXAMPLE_NAMES})\n")


def test_the_readme_and_the_help_document_the_same_lines(capsys):
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```text\n(vswitch: FILE:.*?)```", readme, re.S)[1]
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    help_text = capsys.readouterr().out
    forms = [" ".join(line.split()) for line in block.splitlines()]
    assert len(forms) == 3 and set(forms) <= {" ".join(line.split()) for line in help_text.splitlines()}
