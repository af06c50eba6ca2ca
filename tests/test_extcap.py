"""The Wireshark extcap (vswitch/extcap.py): the protocol's answers, the capture it streams (the frames and times
``vswitch run`` writes to the point's pcap, with the pcapng comments), install/uninstall, and tshark itself
listing and capturing the points (skipped without tshark)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import vswitch
from vswitch import CaptureReader
from vswitch.cli import main
from vswitch.extcap import LAUNCHER, capture_points, protocol_main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "topologies" / "two-vms-one-adapter.yaml"
POINT = "vswitch_two-vms-one-adapter_sw1-p2"  # the capture point sw1.p2, written to sw1-p2.pcap
TIMEOUT_S = 300  # tshark asks every interface for its options, one Python process each: slow on a busy machine


@pytest.fixture
def topologies(tmp_path: Path) -> Path:
    folder = tmp_path / "topologies"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder)
    return folder


def extcap(capsys, *argv: str) -> tuple[int, str, str]:
    status = protocol_main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def run_pcap(tmp_path: Path, file_name: str) -> list[tuple[int, bytes]]:
    """(time, frame) of each record ``vswitch run`` writes to ``file_name`` for the example."""
    assert main(["run", str(EXAMPLE), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    with CaptureReader(tmp_path / "run" / file_name) as reader:
        return [(r.time_ns, r.frame) for r in reader]


def comments(path: Path) -> list[str]:
    from scapy.utils import rdpcap

    return [p.comments[0].decode() for p in rdpcap(str(path))]


# -- the protocol ---------------------------------------------------------------------------------------------
def test_every_capture_point_of_every_file_is_an_interface(topologies, capsys):
    (topologies / "broken.yaml").write_text("name: broken\nhosts: [{name: h1, mac: 1}]\n")
    (topologies / "notes.txt").write_text("not a topology")
    status, out, err = extcap(capsys, "--topologies", str(topologies), "--extcap-interfaces", "--extcap-version=4.0")
    assert status == 0
    assert out.splitlines() == [
        f"extcap {{version={vswitch.__version__}}}{{display=vswitch topology files}}",
        *(f"interface {{value=vswitch_two-vms-one-adapter_{file}}}{{display=vswitch: two-vms-one-adapter {point}}}"
          for file, point in (("h1", "h1"), ("vm1", "vm1"), ("vm2", "vm2"), ("sw1-p1", "sw1.p1"),
                              ("sw1-p2", "sw1.p2"), ("hv1-uplink", "hv1.uplink")))]
    assert err.startswith(f"vswitch: {topologies / 'broken.yaml'}:2:25: hosts[0].mac: expected a MAC address")


def test_dlts_and_config(topologies, capsys):
    assert extcap(capsys, "--topologies", str(topologies), "--extcap-interface", POINT, "--extcap-dlts") == (
        0, "dlt {number=1}{name=EN10MB}{display=Ethernet}\n", "")
    status, out, _ = extcap(capsys, "--topologies", str(topologies), "--extcap-interface", POINT, "--extcap-config")
    assert (status, out) == (0, "arg {number=0}{call=--until}{display=Stop at (virtual time)}{type=string}"
                                "{tooltip=e.g. 10ms; empty: the whole scenario}{required=false}\n")


@pytest.mark.parametrize("argv, message", [
    (["--extcap-interface", "vswitch_nope", "--extcap-dlts"],
     "vswitch: no capture point vswitch_nope in {t} (interfaces: vswitch_two-vms-one-adapter_h1, "),
    (["--extcap-interface", POINT, "--capture"], "vswitch: --capture needs --fifo PATH"),
    (["--extcap-interface", POINT, "--capture", "--fifo", "x", "--until", "10"],
     "vswitch: argument --until: 10 has no unit"),
    (["--extcap-dlts"], "vswitch: --extcap-dlts and --capture need --extcap-interface NAME"),
    ([], "vswitch: nothing to do: give --extcap-interfaces, --extcap-dlts, --extcap-config or --capture"),
])
def test_a_wrong_call_is_one_line_and_status_2(topologies, capsys, argv, message):
    status, out, err = extcap(capsys, "--topologies", str(topologies), *argv)
    assert (status, out) == (2, "") and err.startswith(message.format(t=topologies)) and err.count("\n") == 1


def test_a_missing_topologies_folder_is_named(tmp_path, capsys):
    assert extcap(capsys, "--topologies", str(tmp_path / "gone"), "--extcap-interfaces") == (
        2, "", f"vswitch: topologies folder {tmp_path / 'gone'}: no such folder\n")


#: the run's pcapng comments at the point: frame number, decision, what the frame taught the switch
EXPECTED_COMMENTS = ["#1 flooded: unknown unicast -> sw1.p1; learned 52:54:00:00:00:01 on sw1.p2",
                     "#2 flooded: unknown unicast -> sw1.p1; learned 52:54:00:00:00:02 on sw1.p2", "#3 forwarded"]


def test_a_capture_holds_the_frames_and_times_vswitch_run_writes_with_their_comments(topologies, tmp_path, capsys):
    out = tmp_path / "stream.pcapng"
    assert extcap(capsys, "--topologies", str(topologies), "--extcap-interface", POINT, "--capture",
                  "--fifo", str(out)) == (0, "", "")
    with CaptureReader(out) as reader:
        streamed = [(r.time_ns, r.frame) for r in reader]
    assert streamed == run_pcap(tmp_path, "sw1-p2.pcap") and len(streamed) == 3
    assert comments(out) == EXPECTED_COMMENTS


def test_until_stops_the_run(topologies, tmp_path, capsys):
    out = tmp_path / "stream.pcapng"
    assert extcap(capsys, "--topologies", str(topologies), "--extcap-interface", POINT, "--capture",
                  "--fifo", str(out), "--until", "5us")[0] == 0
    with CaptureReader(out) as reader:
        assert [r.time_ns for r in reader] == [t for t, _ in run_pcap(tmp_path, "sw1-p2.pcap")][:1]


def test_frames_reach_the_fifo_while_the_run_goes(topologies, tmp_path, capsys):
    """A reader of the FIFO gets the pcapng as Wireshark would, through a real named pipe."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    assert extcap(capsys, "--topologies", str(topologies), "--extcap-interface", POINT, "--capture",
                  "--fifo", str(fifo))[0] == 0
    reader.join(60)
    (tmp_path / "got.pcapng").write_bytes(received[0])
    with CaptureReader(tmp_path / "got.pcapng") as got:
        assert [(r.time_ns, r.frame) for r in got] == run_pcap(tmp_path, "sw1-p2.pcap")


def test_wiresharks_stop_removes_the_temporary_folder(topologies, tmp_path):
    """SIGTERM (Wireshark's stop) while the extcap waits for its reader: it exits 0 and leaves nothing behind."""
    fifo, temp = tmp_path / "fifo", tmp_path / "tmp"
    os.mkfifo(fifo)
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONPATH": str(Path(vswitch.__file__).resolve().parents[1])}
    process = subprocess.Popen([sys.executable, "-m", "vswitch.extcap", "--topologies", str(topologies),
                                "--extcap-interface", POINT, "--capture", "--fifo", str(fifo)], env=env)
    deadline = time.monotonic() + 120
    while not any(temp.iterdir()) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert [p.name.startswith("vswitch-extcap-") for p in temp.iterdir()] == [True]
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    assert list(temp.iterdir()) == []


def test_points_of_a_file_that_does_not_load_are_not_listed(tmp_path):
    (tmp_path / "a.yaml").write_text("name: a\nswitches: [{name: sw1}]\nhosts: [{name: h1, mac: 1}]\n")
    points, problems = capture_points(tmp_path)
    assert points == [] and len(problems) == 1


# -- install, uninstall -----------------------------------------------------------------------------------------
def test_install_writes_a_launcher_that_answers_for_the_folder(topologies, tmp_path, capsys):
    folder = tmp_path / "extcap"
    assert main(["extcap", "install", "--topologies", str(topologies), "--extcap-folder", str(folder)]) == 0
    assert capsys.readouterr().out == (f"installed {folder / LAUNCHER}: Wireshark lists the 6 capture points of 1 "
                                       f"topology files in {topologies} (restart Wireshark; tshark -D lists them)\n")
    launcher = folder / LAUNCHER
    assert os.access(launcher, os.X_OK)
    done = subprocess.run([str(launcher), "--extcap-interfaces"], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0 and f"interface {{value={POINT}}}" in done.stdout
    assert main(["extcap", "uninstall", "--extcap-folder", str(folder)]) == 0
    assert capsys.readouterr().out == f"removed {launcher}\n" and not launcher.exists()
    assert main(["extcap", "uninstall", "--extcap-folder", str(folder)]) == 0
    assert capsys.readouterr().out == f"nothing to remove: no {LAUNCHER} in {folder}\n"


def test_a_file_vswitch_did_not_write_is_left_alone(topologies, tmp_path, capsys):
    folder = tmp_path / "extcap"
    folder.mkdir()
    (folder / LAUNCHER).write_text("#!/bin/sh\necho someone else's\n")
    for argv in (["install", "--topologies", str(topologies)], ["uninstall"]):
        assert main(["extcap", *argv, "--extcap-folder", str(folder)]) == 2
        assert capsys.readouterr().err.startswith(f"vswitch: extcap folder {folder}: {LAUNCHER} ")
    assert (folder / LAUNCHER).read_text() == "#!/bin/sh\necho someone else's\n"


# -- tshark itself ----------------------------------------------------------------------------------------------
@pytest.fixture
def wireshark_home(tmp_path, monkeypatch, topologies, capsys) -> dict[str, str]:
    """A home of its own, the launcher installed in the personal extcap folder tshark names there."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert main(["extcap", "install", "--topologies", str(topologies)]) == 0
    assert str(home) in capsys.readouterr().out
    return {**os.environ, "HOME": str(home)}


@pytest.mark.vswitch_tshark
def test_tshark_lists_the_capture_points(wireshark_home):
    done = subprocess.run(["tshark", "-D"], capture_output=True, text=True, timeout=TIMEOUT_S, env=wireshark_home)
    listed = [line.split(". ", 1)[1] for line in done.stdout.splitlines() if "vswitch" in line]
    assert f"{POINT} (vswitch: two-vms-one-adapter sw1.p2)" in listed and len(listed) == 6


@pytest.mark.vswitch_tshark
def test_tshark_captures_the_frames_a_run_writes_to_the_points_pcap(wireshark_home, tmp_path):
    out = tmp_path / "tshark.pcapng"
    done = subprocess.run(["tshark", "-i", POINT, "-c", "3", "-w", str(out)], capture_output=True, text=True,
                          timeout=TIMEOUT_S, env=wireshark_home, cwd=tmp_path)
    assert out.is_file(), done.stderr
    with CaptureReader(out) as reader:
        assert [(r.time_ns, r.frame) for r in reader] == run_pcap(tmp_path, "sw1-p2.pcap")
    assert comments(out) == EXPECTED_COMMENTS
