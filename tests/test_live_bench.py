"""``vswitch bench --live``: the three paths are measured and reported, and it leaves nothing behind (root only).

The figures themselves are machine-dependent and not asserted; the test checks that every path carried frames and
that the report has the figures the docs quote.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from vswitch import cli
from vswitch.live import bench

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                               reason="bench --live creates namespaces: it needs root and iproute2")


def _namespaces() -> set[str]:
    return {line.split()[0] for line in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                                       text=True).stdout.splitlines() if line.strip()}


@ROOT_ONLY
def test_each_path_is_measured_and_reported_and_removed(monkeypatch, capsys) -> None:
    monkeypatch.setattr(bench, "LATENCY_PROBES", 50)
    monkeypatch.setattr(bench, "THROUGHPUT_S", 0.3)
    assert cli.main(["bench", "--live"]) == 0
    out = capsys.readouterr().out
    rows = {m[1]: m for m in re.finditer(r"^(veth \(no switch\)|linux bridge|vswitch live)\s+([\d,]+)\s+([\d.]+)\s+"
                                         r"([\d.]+)\s+([+-][\d.]+)\s+(\d+)$", out, re.M)}
    assert set(rows) == {"veth (no switch)", "linux bridge", "vswitch live"}, out
    assert all(int(row[2].replace(",", "")) > 0 for row in rows.values()), out  # every path carried frames
    assert rows["veth (no switch)"][5] == "+0.0"  # the baseline the others are counted from
    assert "vswitch pure Python" in out or "vswitch compiled (mypyc)" in out
    pid = os.getpid()
    ours = f"vsl{pid}", f"vsl{pid % 100000}", f"vslb{pid % 100000}"  # (other tests make namespaces meanwhile)
    assert not [name for name in _namespaces() | set(os.listdir("/sys/class/net")) if name.startswith(ours)]


def test_without_root_it_says_so(monkeypatch, capsys) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert cli.main(["bench", "--live"]) == 2
    assert capsys.readouterr().err == ("vswitch: vswitch bench --live creates network namespaces and veths: run it as "
                                       "root with iproute2 installed (sudo vswitch bench --live)\n")
