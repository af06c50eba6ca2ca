"""Ctrl-C at any moment of ``vswitch run`` (issue 12, item 12): one line, exit status 130, never a traceback, and no
capture cut inside a record.

The child is ``python -m vswitch run`` as a user starts it, but for one thing: it reports on a pipe the moment
vswitch has installed its Ctrl-C handler, its first act (``vswitch/__main__.py``). Before that the interpreter
itself is starting (site, runpy), where an interrupt is Python's own. The tests interrupt at that moment and at
instants after it, while the modules load, the file is read and the network built, and while the run writes its
captures.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

import vswitch
from vswitch import cli
from vswitch.pcap.reader import CaptureReader

PACKAGE_PARENT = Path(vswitch.__file__).resolve().parent.parent
#: the child: ``python -m vswitch ARGS`` that writes to the fd in argv[1] once SIGINT has a handler
CHILD = """
import _signal, os, runpy, sys
fd = int(sys.argv.pop(1))
install = _signal.signal
def reporting(signum, handler):
    previous = install(signum, handler)
    if signum == _signal.SIGINT:
        os.write(fd, b"ready")
    return previous
_signal.signal = reporting  # signal.signal calls it too
sys.argv[0] = "vswitch"
runpy.run_module("vswitch", run_name="__main__", alter_sys=True)
"""
LONG_RUN = """name: long
hosts: [{name: h1, mac: "02:00:00:00:00:01"}, {name: h2, mac: "02:00:00:00:00:02"}]
links: [[h1, h2]]
captures: {points: [h2]}
scenario:
  - stream: {from: h1, to: h2, count: 5000000, rate: 1000000pps, size: 200}
"""
DEADLINE_S = 60  # for a slow machine; each case takes well under a second here
READY_S = DEADLINE_S  # a hang guard: the handler is in place some 50 ms after the start here


@pytest.fixture
def child(tmp_path: Path) -> Iterator[Callable[[], tuple[subprocess.Popen, Path]]]:
    """Start ``vswitch run`` of a run long enough to be interrupted anywhere; return once its Ctrl-C handler is
    in place. The child is killed at the end of the test whatever happened."""
    started: list[subprocess.Popen] = []

    def start() -> tuple[subprocess.Popen, Path]:
        topology = tmp_path / "long.yaml"
        topology.write_text(LONG_RUN)
        out = tmp_path / "out"
        ready, report = os.pipe()
        try:
            started.append(subprocess.Popen(
                [sys.executable, "-c", CHILD, str(report), "run", str(topology), "--out", str(out), "--quiet"],
                cwd=PACKAGE_PARENT, pass_fds=(report,), stdout=subprocess.PIPE, stderr=subprocess.PIPE))
            os.close(report)
            assert select.select([ready], [], [], READY_S)[0], "vswitch did not install its Ctrl-C handler"
            assert os.read(ready, 5) == b"ready"
        finally:
            os.close(ready)
        return started[-1], out

    yield start
    for proc in started:
        proc.kill()
        proc.communicate()


def assert_interrupted_cleanly(proc: subprocess.Popen, out: Path) -> None:
    stdout, stderr = proc.communicate(timeout=DEADLINE_S)
    assert (proc.returncode, stderr.decode(), stdout.decode()) == (130, "vswitch: interrupted\n", "")
    for capture in sorted(out.glob("*")) if out.exists() else []:
        with CaptureReader(capture) as reader:
            count = sum(1 for _ in reader)
        assert reader.stop is None, f"{capture.name}: {reader.stop} after {count} records"


@pytest.mark.parametrize("delay_ms", [0, 1, 5, 20, 50, 100, 200, 400])
def test_ctrl_c_while_starting_is_one_line_and_status_130(child, delay_ms):
    proc, out = child()
    time.sleep(delay_ms / 1000)
    proc.send_signal(signal.SIGINT)
    assert_interrupted_cleanly(proc, out)


def test_ctrl_c_while_captures_are_written_leaves_them_whole(child):
    proc, out = child()
    capture = out / "h2.pcap"
    deadline = time.monotonic() + DEADLINE_S
    while not (capture.exists() and capture.stat().st_size > 24):  # past the header: records are being written
        assert proc.poll() is None and time.monotonic() < deadline, f"no records written; exit {proc.returncode}"
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)  # pressed twice: still one line, and the captures are closed
    assert_interrupted_cleanly(proc, out)
    assert sorted(p.name for p in out.iterdir()) == ["all.pcapng", "h2.pcap"]


def test_an_interrupt_before_the_command_runs_is_one_line_too(monkeypatch, capsys):
    """In-process: while the arguments are parsed (the parser raising as a Ctrl-C would) main still returns 130."""
    def interrupted(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "build_parser", interrupted)
    try:
        status = cli.main(["validate", "x.yaml"])
    except KeyboardInterrupt:
        pytest.fail("main let the KeyboardInterrupt out: the user sees a traceback")
    assert status == 130
    assert capsys.readouterr().err == "vswitch: interrupted\n"


def test_importing_the_package_loads_nothing_slow():
    """``python -m vswitch`` imports the package before ``__main__``: it must not load Scapy or the emulator
    first, or Ctrl-C during those imports is a traceback."""
    code = "import sys, vswitch; print(sorted(m for m in sys.modules if m.startswith(('vswitch', 'scapy'))))"
    done = subprocess.run([sys.executable, "-c", code], cwd=PACKAGE_PARENT, capture_output=True, text=True,
                          timeout=DEADLINE_S)
    assert done.stdout.strip() == "['vswitch']", done.stderr
    from vswitch.net import network
    assert vswitch.Network is network.Network  # the public names load on first use
