"""Wireshark's extcap interface: the capture points of a folder of topology files as capture interfaces.

``vswitch extcap install`` writes a small launcher into the user's personal extcap folder; Wireshark and tshark
run every program there to list interfaces (``--extcap-interfaces``), their link types (``--extcap-dlts``) and
options (``--extcap-config``), and to capture (``--capture --fifo PATH``): see extcap(4). Each capture point of
each topology file in the folder given at install time is an interface, ``vswitch: two-vms-one-adapter sw1.p2``.
Capturing from one runs that file as ``vswitch run`` does and streams the point's frames, with the pcapng
comments that say what happened to each, into the FIFO while the run goes: the run writes the point's pcapng into
a temporary folder, flushed and copied into the FIFO after each slice of the run (``ScenarioRunner``'s progress
calls), so the frames are those ``vswitch run`` writes to the point's pcap, byte for byte, with the same times.

The launcher runs ``python -m vswitch.extcap --topologies FOLDER ARGS...`` with the Python and the vswitch that
installed it. Wireshark runs it often (``tshark -D`` asks each interface's options, one process each), so this
module imports the topology layers only when a call needs them. Everything is removed on the way out: the
temporary folder on the run's end, an error, Ctrl-C, a closed FIFO (tshark ``-c N`` has its frames) or SIGTERM
(Wireshark's stop button).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NoReturn, Sequence

from . import __version__
from .core.errors import VSwitchError, error_lines
from .core.units import parse_duration

if TYPE_CHECKING:
    from .topology.spec import CaptureSpec

LAUNCHER = "vswitch-extcap"  #: the launcher's file name in the extcap folder
_MARK = "# written by `vswitch extcap install`"  #: uninstall removes only a file that holds this line
LINKTYPE_ETHERNET = 1
DEFAULT_FOLDER = Path("~/.local/lib/wireshark/extcap")  #: Wireshark 4.2 and later, when tshark cannot say
_STREAM = "extcap.pcapng"  #: the run's pcapng of the one point, in the temporary folder


class ExtcapError(VSwitchError):
    """A mistake in what the extcap was asked: an unknown interface, a folder that cannot be used."""


@dataclass(frozen=True)
class CapturePoint:
    """One interface: the capture ``capture`` of the topology file ``path``."""

    value: str  # what Wireshark passes back as --extcap-interface
    display: str
    path: Path
    capture: CaptureSpec


def capture_points(folder: Path) -> tuple[list[CapturePoint], list[str]]:
    """The interfaces of the topology files directly in ``folder`` (``*.yaml``, ``*.yml``), sorted by file, in
    the order each file lists its points; and one line per file that does not load (it lists none)."""
    from .topology.loader import load_topology

    points, problems = [], []
    for path in sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()):
        try:
            spec = load_topology(path)
        except VSwitchError as exc:
            problems += error_lines(exc)
            continue
        for capture in spec.captures:
            where = capture.point if capture.direction == "both" else f"{capture.point} ({capture.direction})"
            points.append(CapturePoint(f"vswitch_{path.stem}_{Path(capture.file).stem}",
                                       f"vswitch: {spec.name} {where}", path, capture))
    return points, problems


def interfaces_text(points: list[CapturePoint]) -> str:
    """The answer to ``--extcap-interfaces``."""
    lines = [f"extcap {{version={__version__}}}{{display=vswitch topology files}}"]
    lines += [f"interface {{value={p.value}}}{{display={p.display}}}" for p in points]
    return "\n".join(lines)


def dlts_text() -> str:
    """The answer to ``--extcap-dlts``: every point carries Ethernet frames."""
    return f"dlt {{number={LINKTYPE_ETHERNET}}}{{name=EN10MB}}{{display=Ethernet}}"


def config_text() -> str:
    """The answer to ``--extcap-config``: the one option, where the run stops."""
    return ("arg {number=0}{call=--until}{display=Stop at (virtual time)}{type=string}"
            "{tooltip=e.g. 10ms; empty: the whole scenario}{required=false}")


def capture(point: CapturePoint, fifo: str, until_ns: int | None = None) -> None:
    """Run ``point``'s topology and stream the point's frames, as pcapng, into ``fifo``."""
    from .scenario.runner import ScenarioRunner
    from .topology.build import build_network
    from .topology.loader import load_topology

    spec = load_topology(point.path)
    one = dataclasses.replace(spec, captures=(point.capture,), pcapng=_STREAM)  # this point alone
    with tempfile.TemporaryDirectory(prefix="vswitch-extcap-") as folder, open(fifo, "wb") as out:
        net = build_network(one, capture_dir=folder, record=False)
        try:
            with open(Path(folder) / _STREAM, "rb") as follow:
                def forward(now: int = 0, end: int = 0) -> None:
                    net.captures.flush()
                    _copy(follow, out)

                ScenarioRunner(one, net).run(until_ns, progress=forward)
                net.close()
                _copy(follow, out)
        finally:
            net.close()  # again after an error: closes what is still open


def _copy(follow: BinaryIO, out: BinaryIO) -> None:
    """What the run added to the followed file, into the FIFO at once (so Wireshark shows it)."""
    data = follow.read()
    if data:
        out.write(data)
        out.flush()


# -- the folder Wireshark looks in ---------------------------------------------------------------------------
def personal_folder() -> Path:
    """The personal extcap folder of the Wireshark on PATH (``tshark -G folders``): its "Personal Extcap path"
    (Wireshark 4.2 and later), else its personal configuration's ``extcap`` (before 4.2), else the 4.2 default."""
    tshark = shutil.which("tshark")
    if tshark is not None:
        try:
            folders = subprocess.run([tshark, "-G", "folders"], capture_output=True, text=True, timeout=60).stdout
        except (OSError, subprocess.SubprocessError):
            folders = ""
        found = dict(re.findall(r"^([^:\n]+):\s*(.+)$", folders, re.M))
        if "Personal Extcap path" in found:
            return Path(found["Personal Extcap path"].strip())
        if "Personal configuration" in found:
            return Path(found["Personal configuration"].strip()) / "extcap"
    return DEFAULT_FOLDER.expanduser()


def launcher_text(topologies: Path) -> str:
    """The launcher: this Python and this vswitch (its folder first on the path), on ``topologies``."""
    package_parent = Path(__file__).resolve().parent.parent
    return (f"#!/bin/sh\n{_MARK}; `vswitch extcap uninstall` removes it.\n"
            f"PYTHONPATH={shlex.quote(str(package_parent))}${{PYTHONPATH:+:$PYTHONPATH}}\nexport PYTHONPATH\n"
            f"exec {shlex.quote(sys.executable)} -m vswitch.extcap --topologies {shlex.quote(str(topologies))} "
            '"$@"\n')


def _folder(path: Path, what: str, *, must_exist: bool) -> Path:
    """``path`` if it is (or, unless ``must_exist``, may become) a folder; else an ``ExtcapError`` naming it."""
    for part in [path, *path.parents]:
        try:
            mode = part.stat().st_mode
        except (FileNotFoundError, NotADirectoryError):  # missing, or below a file: its parent says which
            if must_exist and part == path:
                raise ExtcapError(f"{what} {path}: no such folder") from None
            continue
        except OSError as exc:
            raise ExtcapError(f"{what} {path}: cannot use {part}: {exc.strerror}") from None
        if not stat.S_ISDIR(mode):
            raise ExtcapError(f"{what} {path}: {part} is not a folder")
        return path
    return path


def install(topologies: Path, folder: Path) -> str:
    """Write the launcher into ``folder`` for the topology files of ``topologies``; return what to tell the user."""
    _folder(folder, "extcap folder", must_exist=False)
    source = _folder(topologies, "topologies folder", must_exist=True).resolve()
    target = folder / LAUNCHER
    if target.exists() and _MARK not in target.read_text(errors="replace"):
        raise ExtcapError(f"extcap folder {folder}: {LAUNCHER} is there and was not written by vswitch: remove it "
                          "first")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target.write_text(launcher_text(source))
        target.chmod(0o755)
    except OSError as exc:
        raise ExtcapError(f"extcap folder {folder}: cannot write {target.name}: {exc.strerror}") from None
    points, problems = capture_points(source)
    files = len({p.path for p in points})
    skipped = f"; {len(problems)} problems in files that do not load (vswitch validate)" if problems else ""
    return (f"installed {target}: Wireshark lists the {len(points)} capture points of {files} topology files in "
            f"{source}{skipped} (restart Wireshark; tshark -D lists them)")


def uninstall(folder: Path) -> str:
    target = folder / LAUNCHER
    if not target.exists():
        return f"nothing to remove: no {LAUNCHER} in {folder}"
    if _MARK not in target.read_text(errors="replace"):
        raise ExtcapError(f"extcap folder {folder}: {LAUNCHER} was not written by vswitch: left in place")
    try:
        target.unlink()
    except OSError as exc:
        raise ExtcapError(f"cannot remove {target}: {exc.strerror}") from None
    return f"removed {target}"


# -- the vswitch command (install, uninstall) ----------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("install", "uninstall"),
                        help="install: put the launcher in Wireshark's personal extcap folder; uninstall: remove it")
    parser.add_argument("--topologies", metavar="TOPOLOGY_DIR", default="topologies",
                        help="the folder whose topology files' capture points Wireshark lists (default: topologies)")
    parser.add_argument("--extcap-folder", metavar="EXTCAP_DIR",
                        help="where the launcher goes (default: the personal extcap folder tshark -G folders names)")


def run(args: argparse.Namespace) -> int:
    folder = Path(args.extcap_folder).expanduser() if args.extcap_folder else personal_folder()
    message = install(Path(args.topologies), folder) if args.action == "install" else uninstall(folder)
    print(message)
    return 0


# -- the extcap protocol (what Wireshark runs) ---------------------------------------------------------------
class _ProtocolParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ExtcapError(f"{message}; see python -m vswitch.extcap --help")


def protocol_parser() -> argparse.ArgumentParser:
    parser = _ProtocolParser(prog="python -m vswitch.extcap",
                             description="vswitch's Wireshark extcap (extcap(4)); `vswitch extcap install` sets it up")
    parser.add_argument("--topologies", required=True, metavar="TOPOLOGY_DIR")
    parser.add_argument("--extcap-interfaces", action="store_true")
    parser.add_argument("--extcap-version")
    parser.add_argument("--extcap-interface")
    parser.add_argument("--extcap-dlts", action="store_true")
    parser.add_argument("--extcap-config", action="store_true")
    parser.add_argument("--extcap-reload-option")
    parser.add_argument("--extcap-capture-filter")  # not offered: Wireshark applies display filters itself
    parser.add_argument("--capture", action="store_true")
    parser.add_argument("--fifo")
    parser.add_argument("--until", type=_duration)
    parser.add_argument("--debug", action="store_true")
    parser.add_argument("--debug-file")
    return parser


def _duration(text: str) -> int | None:
    """``--until``: a virtual time (``10ms``); empty (Wireshark's blank field) is the whole scenario."""
    try:
        return parse_duration(text) if text else None
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _terminated(signum: int, frame: object) -> NoReturn:
    raise SystemExit(0)  # Wireshark's stop: unwind, so the temporary folder goes


def protocol_main(argv: Sequence[str] | None = None) -> int:
    """Answer one extcap call; a mistake is one ``vswitch: ...`` line per problem on stderr and status 2."""
    try:
        args = protocol_parser().parse_args(argv)
        topologies = _folder(Path(args.topologies), "topologies folder", must_exist=True)
        if args.extcap_interfaces:
            points, problems = capture_points(topologies)
            print(interfaces_text(points))
            for line in problems:  # Wireshark logs it; the interfaces of the other files are listed
                print(line, file=sys.stderr)
            return 0
        if args.extcap_config:
            print(config_text())
            return 0
        if not (args.extcap_dlts or args.capture):
            raise ExtcapError("nothing to do: give --extcap-interfaces, --extcap-dlts, --extcap-config or --capture")
        point = _point(topologies, args.extcap_interface)
        if args.extcap_dlts:
            print(dlts_text())
            return 0
        if not args.fifo:
            raise ExtcapError("--capture needs --fifo PATH")
        signal.signal(signal.SIGTERM, _terminated)
        capture(point, args.fifo, args.until)
        return 0
    except BrokenPipeError:  # tshark -c N has its frames and closed the FIFO
        return 0
    except KeyboardInterrupt:
        return 130
    except (VSwitchError, ValueError) as exc:
        print(*error_lines(exc), sep="\n", file=sys.stderr)
        return 2


def _point(topologies: Path, name: str | None) -> CapturePoint:
    if not name:
        raise ExtcapError("--extcap-dlts and --capture need --extcap-interface NAME")
    points, _problems = capture_points(topologies)
    for point in points:
        if point.value == name:
            return point
    known = ", ".join(p.value for p in points[:10]) or "none"
    raise ExtcapError(f"no capture point {name} in {topologies} (interfaces: {known})")


if __name__ == "__main__":
    sys.exit(protocol_main())
