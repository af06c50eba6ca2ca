"""The progress line of a long run: on a terminal only, after a second, throttled, cleared at the end."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from vswitch import progress as progress_module
from vswitch.cli import main
from vswitch.progress import EVERY_S, SHOW_AFTER_S, Progress

EXAMPLE = str(Path(__file__).resolve().parent.parent / "topologies" / "guests-udp-and-stream.yaml")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_nothing_is_shown_before_a_second_then_time_frames_and_rate_and_done_clears_it():
    out, clock, frames = FakeTerminal(), FakeClock(0.0), [0]
    bar = Progress(lambda: frames[0], enabled=True, stream=out, clock=clock)
    clock.now = SHOW_AFTER_S / 2
    bar(1_000_000, 10_000_000)
    assert out.getvalue() == ""
    clock.now, frames[0] = 2.0, 5000
    bar(5_000_000, 10_000_000)
    assert out.getvalue() == "\rrunning: 5ms of 10ms (50%), 5,000 frames, 2,500 frames/s\033[K"
    bar(6_000_000, 10_000_000)  # at once: throttled
    assert out.getvalue().count("running") == 1
    clock.now += EVERY_S
    bar(7_000_000, 0)  # no end known: no share
    assert out.getvalue().endswith("\rrunning: 7ms, 5,000 frames, 2,222 frames/s\033[K")
    bar.done()
    assert out.getvalue().endswith("\r\033[K")


def test_a_short_run_clears_nothing():
    out = FakeTerminal()
    bar = Progress(lambda: 0, enabled=True, stream=out, clock=FakeClock(0.001))
    bar(1, 2)
    bar.done()
    assert out.getvalue() == ""


@pytest.mark.parametrize("stdout_tty, stderr_tty, quiet, shown", [
    (True, True, False, True), (False, True, False, False), (True, False, False, False), (True, True, True, False)])
def test_run_shows_progress_on_stderr_only_on_a_terminal_and_not_when_quiet(stdout_tty, stderr_tty, quiet, shown,
                                                                            tmp_path, capsys, monkeypatch):
    import sys
    monkeypatch.setattr(sys.stdout, "isatty", lambda: stdout_tty, raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: stderr_tty, raising=False)
    monkeypatch.setattr(progress_module, "stopwatch_s", FakeClock(0.5))  # every slice half a second later
    assert main(["run", EXAMPLE, "--out", str(tmp_path)] + (["--quiet"] if quiet else [])) == 0
    out, err = capsys.readouterr()
    assert "running:" not in out
    if shown:
        assert "\rrunning: " in err and " frames/s\033[K" in err and err.endswith("\r\033[K")
    else:
        assert err == ""
