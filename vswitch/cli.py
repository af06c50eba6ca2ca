"""The ``vswitch`` command line: run, validate, show and explain topology files (and bench, kernel-check).

``main(argv) -> int``: 0 when everything holds, 1 when an expectation fails (kernel-check: the kernel and vswitch
disagree), 2 on a user error, 130 when interrupted (Ctrl-C). A user error is any ``VSwitchError``, a mistake on the
command line included: one line per problem on stderr (``ERRORS``), nothing on stdout. Anything else is a bug in
vswitch and keeps its traceback.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import sys
from pathlib import Path
from typing import Callable, NoReturn, Sequence

from . import __version__, extcap, interrupts, runmany
from .bench import runner as bench
from .buildinfo import build_kind, stale_warning
from .core.errors import OutputFolderError, VSwitchError, error_lines
from .core.reasons import Verdict
from .core.trace import HopRecorder, explain_hops
from .core.units import count, format_duration, parse_duration
from .iocheck import check as iocheck
from .kernel import command as kernelcheck
from .live import bench as live_bench
from .live import command as live
from .net.network import Network
from .outputs import MANIFEST, clear_stale_captures
from .progress import Progress
from .report.diagram import render_svg
from .report.ladder import LadderRecorder
from .report.mermaid import ladder_mermaid, topology_mermaid
from .report.page import run_html, topology_html
from .scenario.context import RunResult
from .scenario.report import render
from .scenario.report_json import as_json
from .scenario.runner import ScenarioRunner
from .scenario.show import render_show
from .topology.build import build_network
from .topology.limits import LIMITS, Limits
from .topology.loader import load_topology
from .topology.spec import TopologySpec
from .topology.yamlsource import check_file

EXAMPLE = "topologies/two-vms-one-adapter.yaml"
EXPLAINED_FRAMES = 100  # explain shows at most this many frames of one name
LISTED_NAMES = 10  # a message lists at most this many frame names
USER_ERROR = 2  # the exit status of a user error
ERRORS = """\
exit status: 0 when every expectation holds, 1 when one fails (kernel-check: when the kernel and vswitch
disagree), 2 on a mistake in a file or on the command line, 130 when interrupted (Ctrl-C).

A mistake prints nothing on stdout and one line per problem on stderr, naming what to fix:
  vswitch: FILE:LINE:COLUMN: FIELD: MESSAGE   a value in a topology file
  vswitch: FILE: MESSAGE                      a file as a whole: one to read, or a capture the run writes
  vswitch: MESSAGE                            the command line: an argument (--until...), the output folder
FIELD is where in the file (hosts[1].mac); text that is not YAML has none. A traceback is a bug in vswitch."""


class CommandLineError(VSwitchError):
    """A mistake on the command line: a missing or unusable file, a bad option value, an unknown frame."""


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are ``CommandLineError`` (one line, status 2), not a usage dump
    and ``SystemExit``."""

    def error(self, message: str) -> NoReturn:
        raise CommandLineError(f"{message}; see {self.prog} --help")


def _load(path: str, args: argparse.Namespace) -> TopologySpec:
    if not os.path.lexists(path):
        raise CommandLineError(f"{path}: no such file (the examples are in topologies/, e.g. {EXAMPLE})")
    check_file(path)  # a folder, or a FIFO that reading would wait on
    return load_topology(path, _limits(args))


def _limits(args: argparse.Namespace) -> Limits:
    """The defaults raised (or lowered) by each ``--limit NAME=VALUE``; a bad option is a one-line user error."""
    try:
        return Limits().raised(args.limit or ())
    except ValueError as exc:
        raise CommandLineError(str(exc)) from None


def _add_limit_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", action="append", metavar="NAME=VALUE",
                        help="accept a bigger file: raise one limit (repeatable; see docs/limits.md). "
                             f"NAME is one of {', '.join(LIMITS)}")


def _duration(text: str) -> int:
    """An argument in virtual time (``10ms``), in ns; a bad one is a usage error naming the argument."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# -- commands -------------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    files = [file for path in args.files for file in _topology_files(path)]
    if len(files) == 1:
        return _run_file(files[0], args).status
    return _run_several(files, args)


def _run_file(path: str, args: argparse.Namespace, out_dirs: dict[str, str] | None = None) -> runmany.FileRun:
    """Run one topology file and print its report; ``out_dirs``: each file's capture folder (several files)."""
    spec = _load(path, args)
    out_dir = Path(out_dirs[path]) if out_dirs else Path(args.out) if args.out else Path("pcaps") / spec.name
    report = None if args.html is None else Path(args.html or out_dir / "report.html")
    mermaid = None if args.mermaid is None else Path(args.mermaid or out_dir)
    if report is not None:
        _check_output(report, "--html", made_by_run=not args.html)
    if args.mermaid:
        _check_folder(Path(args.mermaid), "--mermaid")
    net = build_network(spec, capture_dir=out_dir, pcapng=not args.no_pcapng, record=False)
    progress = Progress.on_terminal(lambda: net.stats.injected, quiet=args.quiet)
    try:  # at once: a Ctrl-C from here on still closes the captures whole
        runner = ScenarioRunner(spec, net)
        recorder = LadderRecorder()
        if report is not None or mermaid is not None:
            recorder.watch(runner)
        result = runner.run(args.until, progress=progress)
    finally:
        progress.done()
        net.close()
    removed = _clear_stale_captures(out_dir, net.captures.files)
    if report is not None:
        _write(report, run_html(spec, build_network(spec, record=False), net, result, recorder, report), "--html")
    if mermaid is not None:
        _write_mermaid(mermaid, spec, net, recorder, result)
    if args.format == "json":
        print(json.dumps(as_json(net, result), indent=2))
    else:
        print(render(net, result, quiet=args.quiet))
        if net.captures.files and not args.quiet:
            print(f"captures: {count(len(net.captures.files), 'file')} in {out_dir}/")
        if removed and not args.quiet:
            print(f"removed {count(len(removed), 'capture')} an earlier run wrote there: {', '.join(removed)}")
        if report is not None and not args.quiet:
            print(f"report: {report}")
    held = sum(check.passed for check in result.checks)
    return runmany.FileRun(path, 0 if result.passed else 1, topology=spec.name,
                           expectations=f"{held}/{len(result.checks)}", frames=net.stats.injected)


def _run_several(files: list[str], args: argparse.Namespace) -> int:
    """``run FILE FILE...``: each file's report in file order (up to ``--jobs`` at once), then a summary table;
    the exit status is the worst file's. Each file's captures go in ``<--out or pcaps>/<its name>/``."""
    for option, value in (("--html", args.html), ("--mermaid", args.mermaid)):
        if value:
            raise CommandLineError(f"{option} {value}: one path for {len(files)} files; give {option} without a "
                                   "path (each file's goes in its captures' folder), or run the files one by one")
    out_dirs: dict[str, str] = {}
    done: list[runmany.FileRun | None] = []
    writer: dict[Path, str] = {}
    for path in files:  # fail fast on a clash of folders; a file that cannot be read is reported in its place
        try:
            spec = _load(path, args)
        except VSwitchError as exc:
            done.append(runmany.failed(path, exc))
            continue
        folder = Path(args.out or "pcaps") / spec.name
        if folder in writer:
            raise CommandLineError(f"{writer[folder]} and {path} would both write their captures in {folder}/ "
                                   "(the same topology name): rename one, or run them one at a time with --out")
        writer[folder], out_dirs[path] = path, str(folder)
        done.append(None)
    return runmany.print_runs(files, functools.partial(_run_file, args=args, out_dirs=out_dirs), args.jobs, done,
                              as_json=args.format == "json")


def _clear_stale_captures(out_dir: Path, written: list[Path]) -> list[str]:
    """Remove the captures an earlier run listed in ``out_dir`` that this one did not write (outputs.py)."""
    if not out_dir.is_dir():
        return []
    try:
        return clear_stale_captures(out_dir, written)
    except OSError as exc:
        raise OutputFolderError(f"output folder {out_dir}: cannot list the captures in {MANIFEST}: "
                                f"{exc.strerror or exc}") from None


def _topology_files(path: str) -> list[str]:
    """``[path]``, or for a folder the ``*.yaml`` and ``*.yml`` files in it, sorted (not those of its subfolders)."""
    if not os.path.isdir(path):
        return [path]
    found = sorted(str(p) for p in Path(path).iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not found:
        raise CommandLineError(f"{path}: a folder with no *.yaml files: name topology files or a folder of them")
    return found


def cmd_validate(args: argparse.Namespace) -> int:
    status = 0
    _limits(args)  # a bad --limit is one error, not one per file
    for path in args.files:
        try:
            files = _topology_files(path)
        except VSwitchError as exc:
            print(*error_lines(exc), sep="\n", file=sys.stderr)
            status = USER_ERROR
            continue
        status = max(status, _validate_files(files, args))
    return status


def _validate_files(files: list[str], args: argparse.Namespace) -> int:
    status = 0
    for path in files:
        try:
            spec = _load(path, args)
            build_network(spec, record=False).close()  # catches what only building finds (ports in use...)
            counts = [count(len(spec.switches), "switch", "switches"), count(len(spec.hosts), "host"),
                      count(len(spec.hypervisors), "hypervisor"),
                      count(sum(len(h.vms) for h in spec.hypervisors), "VM"), count(len(spec.scenario), "action"),
                      count(len(spec.expectations), "expectation")]
            print(f"{path}: ok ({', '.join(counts)})")
            for warning in spec.warnings:
                print(f"vswitch: warning: {warning}", file=sys.stderr)
        except VSwitchError as exc:
            print(*error_lines(exc), sep="\n", file=sys.stderr)
            status = USER_ERROR
    return status


def cmd_show(args: argparse.Namespace) -> int:
    spec = _load(args.file, args)
    for option, path in (("--svg", args.svg), ("--html", args.html)):
        if path is not None:
            _check_output(Path(path), option)
    if args.mermaid is not None:
        _check_folder(Path(args.mermaid), "--mermaid")
    net = build_network(spec, record=False)
    if args.svg is not None:
        _write(Path(args.svg), render_svg(net, spec.name) + "\n", "--svg")
    if args.html is not None:
        _write(Path(args.html), topology_html(spec, net), "--html")
    if args.mermaid is not None:
        _write_mermaid(Path(args.mermaid), spec, net)
    if args.svg is None and args.html is None and args.mermaid is None:
        print(render_show(spec, net))
    return 0


def _check_output(path: Path, option: str, *, made_by_run: bool = False) -> None:
    """Before anything runs: ``path`` can become a file (its folder exists, unless the run makes it)."""
    if path.is_dir():
        raise CommandLineError(f"{option} {path}: is a folder; give a file name, e.g. {path / 'report.html'}")
    if not made_by_run and not path.parent.is_dir():
        raise CommandLineError(f"{option} {path}: no folder {path.parent}; make it first or choose another")


def _check_folder(folder: Path, option: str) -> None:
    """Before anything runs: ``folder`` is a folder, or can be made (no file in the way)."""
    for place in (folder, *folder.parents):
        if place.exists():
            if not place.is_dir():
                raise CommandLineError(f"{option} {folder}: {place} is a file, not a folder; choose a folder")
            return


def _write(path: Path, text: str, option: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CommandLineError(f"{option} {path}: cannot write it: {exc.strerror or exc}") from None


def _write_mermaid(folder: Path, spec: TopologySpec, net: Network, recorder: LadderRecorder | None = None,
                   result: object = None) -> None:
    """``topology.mmd`` (and, after a run, ``ladder.mmd``) in ``folder``."""
    _write(folder / "topology.mmd", topology_mermaid(build_network(spec, record=False)), "--mermaid")
    if recorder is not None:
        _write(folder / "ladder.mmd", ladder_mermaid(net, recorder, result), "--mermaid")


def cmd_explain(args: argparse.Namespace) -> int:
    spec = _load(args.file, args)
    frame = args.frame
    base, _, ordinal = frame.rpartition("#")  # NAME#N: the N-th frame of NAME
    nth = int(ordinal) if base and ordinal.isdecimal() else None
    by_name = HopRecorder(EXPLAINED_FRAMES)
    net, result, by_number = _explain_run(spec, args, {frame: (by_name,), **({base: ()} if nth else {})},
                                          int(frame) if frame.isdecimal() else None)
    if frame in result.frames:  # a name, even one written in digits or with a '#'
        ids = result.frames[frame]
        for index, frame_id in enumerate(itertools.islice(ids, EXPLAINED_FRAMES)):
            _print_hops(frame_id, f"{frame}#{index + 1}", by_name.hops.get(frame_id, []))
        if len(ids) > EXPLAINED_FRAMES:
            print(f"... and {len(ids) - EXPLAINED_FRAMES:,} more frames named {frame} (the first "
                  f"{EXPLAINED_FRAMES} are shown; {frame}#N explains the N-th)")
        return 0
    if nth is not None and base in result.frames:
        ids = result.frames[base]
        if not 1 <= nth <= len(ids):
            sent = f"{base}#1 to {base}#{len(ids)}" if ids else "none"
            raise CommandLineError(f"{args.file}: no frame {frame}: {base} sent {len(ids)} frame"
                                   f"{'' if len(ids) == 1 else 's'} before the run ended ({sent})")
        frame_id = ids[nth - 1]  # the same run again, watching that frame: runs are deterministic
        _net, _result, recorder = _explain_run(spec, args, {base: ()}, frame_id)
        _print_hops(frame_id, frame, recorder.hops.get(frame_id, []))
        return 0
    if frame.isdecimal():
        number = _sent_frame(args, int(frame), net, _frame_names(result), by_number)
        _print_hops(number, frame, by_number.hops[number])
        return 0
    raise CommandLineError(f"{args.file}: no frame named {frame!r} ({_named(_frame_names(result))}; or give "
                           "NAME#N, the N-th frame of a name, or a frame number)")


def _explain_run(spec: TopologySpec, args: argparse.Namespace, watchers: dict[str, tuple[HopRecorder, ...]],
                 number: int | None) -> tuple[Network, RunResult, HopRecorder]:
    """Run ``spec`` with ``watchers`` on frame names (an empty tuple only names the frames) and a recorder on
    frame ``number``: (network, result, that recorder)."""
    net = build_network(spec, record=False)
    runner = ScenarioRunner(spec, net)
    for name, recorders in watchers.items():
        runner.watchers[name] = runner.watchers.get(name, ()) + recorders
    by_number = HopRecorder(1)
    if number is not None:
        net.watch_frame(number, (by_number,))
    return net, runner.run(args.until), by_number


def _print_hops(frame_id: int, label: str, hops: list) -> None:
    print(f"frame {frame_id} ({label})")
    print(explain_hops(hops) if hops else f"frame {frame_id}: no trace (not sent before the run ended)")
    delivered = [e.port for e in hops if e.outcome is Verdict.DELIVERED]
    drops = [e for e in hops if e.is_drop]
    print(f"=> delivered to {', '.join(delivered) or 'nobody'}; "
          f"{len(drops)} cop{'y' if len(drops) == 1 else 'ies'} dropped\n")


def _frame_names(result: RunResult) -> set[str]:
    """Every name ``explain`` takes: sends, replays and migrations, and sessions (ping, udp...) and streams."""
    return set(result.frames) | set(result.sessions) | set(result.streams)


def _sent_frame(args: argparse.Namespace, number: int, net: Network, names: set[str],
                recorder: HopRecorder) -> int:
    """``number`` if the run sent that frame; otherwise a ``CommandLineError`` saying which frames it sent."""
    if number in recorder.hops:
        return number
    given = net.stats.injected  # the run gave the ids 1 to this (the last ones may be due after --until)
    sent = "no frame" if given == 0 else "frame 1" if given == 1 else f"frames 1 to {given}"
    stop = f"--until {format_duration(args.until)}" if args.until is not None else ""
    if 1 <= number <= given:
        why = f"it was due after {stop or 'the run ended'}"
    else:
        why = f"the run sent {sent}" + (f" before {stop}" if stop else "")
    raise CommandLineError(f"{args.file}: no frame {number}: {why} ({_named(names)})")


def _named(names: set[str]) -> str:
    """``named frames: a, b, c`` (the first ``LISTED_NAMES``), for a message."""
    if not names:
        return "named frames: none"
    shown = sorted(names)[:LISTED_NAMES]
    more = f" and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
    return f"named frames: {', '.join(shown)}{more}"


# -- parser -----------------------------------------------------------------------------------------------
#: (name, help, example, add_arguments, run) of the commands living in their own modules. They always ship:
#: a module that fails to import is a bug, and its traceback says so (a command never vanishes from the list).
_MODULE_COMMANDS: list[tuple[str, str, str, Callable, Callable]] = [
    ("bench", "measure frames/s and memory on standard workloads", "vswitch bench lan8 -n 100000",
     bench.add_arguments, lambda args: live_bench.run(args, build_kind()) if args.live else bench.run(args)),
    ("kernel-check", "run a topology in Linux namespaces and in vswitch, compare receivers (or spanning trees)",
     f"sudo vswitch kernel-check {EXAMPLE}", kernelcheck.add_arguments, kernelcheck.run),
    ("kernel-cleanup", "remove namespaces and links left by a killed kernel-check", "sudo vswitch kernel-cleanup",
     kernelcheck.add_cleanup_arguments, kernelcheck.run_cleanup),
    ("io-check", "boot a Linux guest under QEMU, count its NIC's exits, compare with an I/O model",
     "sudo vswitch io-check emulated", iocheck.add_arguments, iocheck.run),
    ("live", "run a topology in real time, with real namespaces, VMs (TAP) and interfaces as stations (attach:) and "
             "VXLAN ports to other machines (vxlan:)",
     "sudo vswitch live topologies/live-two-namespaces.yaml --duration 30s", live.add_arguments, live.run),
    ("live-cleanup", "remove namespaces, links and TAPs left by a killed vswitch live", "sudo vswitch live-cleanup",
     live.add_cleanup_arguments, live.run_cleanup),
    ("extcap", "list topology files' capture points in Wireshark: install or uninstall its extcap launcher",
     "vswitch extcap install --topologies topologies", extcap.add_arguments, extcap.run),
]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="vswitch", description="Packet-level emulator of virtual NICs, adapters and learning switches.",
        epilog=f"{ERRORS}\n\nexample: vswitch run {EXAMPLE}", formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"vswitch {__version__}, {build_kind()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, example: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, description=help_text, epilog=f"example: {example}",
                                   formatter_class=argparse.RawDescriptionHelpFormatter)

    run = command("run", "replay a topology file: tables, captures, expectations", f"vswitch run {EXAMPLE}")
    run.add_argument("files", nargs="+", metavar="FILE",
                     help="topology file (YAML), or a folder of them; with several, each file's report in order, "
                          "then a summary table, and the worst exit status")
    run.add_argument("--out", metavar="DIR", help="folder for the captures (default: pcaps/<topology name>/; with "
                                                  "several files: DIR/<topology name>/)")
    run.add_argument("-j", "--jobs", type=bench._at_least_one, default=1, metavar="N",
                     help="run up to N files at once, each in its own process (default 1); the outputs are the "
                          "same whatever N")
    run.add_argument("--until", type=_duration, metavar="TIME", help="stop at this virtual time, e.g. 10ms")
    run.add_argument("--no-pcapng", action="store_true", help="write only the per-point classic pcaps")
    run.add_argument("--format", choices=("table", "json"), default="table",
                     help="table (default) for people, or json: the report as data, times in ns, drops by reason "
                          "(schema: docs/json.md)")
    run.add_argument("--quiet", action="store_true", help="print only failures and the summary line (and no "
                                                          "progress line: a run of over a second on a terminal shows "
                                                          "virtual time, frames and frames/s on stderr)")
    run.add_argument("--html", nargs="?", const="", metavar="PATH",
                     help="write a self-contained HTML report: topology, frame ladder, tables (default PATH: "
                          "<out>/report.html; docs/report.md)")
    run.add_argument("--mermaid", nargs="?", const="", metavar="FOLDER",
                     help="write topology.mmd and ladder.mmd (Mermaid) in FOLDER (default: the captures' folder)")
    _add_limit_option(run)
    run.set_defaults(handler=cmd_run)

    validate = command("validate", "check topology files (or every *.yaml in a folder) without running them",
                       "vswitch validate topologies/")
    validate.add_argument("files", nargs="+", metavar="FILE", help="a topology file, or a folder of them")
    _add_limit_option(validate)
    validate.set_defaults(handler=cmd_validate)

    show = command("show", "print the topology: port map and settings, VMs, MACs and vendors (or draw it: --svg, "
                   "--html)", f"vswitch show {EXAMPLE} --svg topology.svg")
    show.add_argument("file")
    show.add_argument("--svg", metavar="PATH", help="write the topology picture as an SVG file (and print nothing)")
    show.add_argument("--html", metavar="PATH", help="write the topology as a self-contained HTML page")
    show.add_argument("--mermaid", metavar="FOLDER", help="write the topology as FOLDER/topology.mmd (Mermaid)")
    _add_limit_option(show)
    show.set_defaults(handler=cmd_show)

    explain = command("explain", "hop-by-hop trace of one named frame, with reasons",
                      f"vswitch explain {EXAMPLE} vm1-to-h1")
    explain.add_argument("file")
    explain.add_argument("frame", help="a frame: its number (the #17 of a capture's comments), the name of an action "
                                       "that sends (send, ping, udp, stream, replay...), or NAME#N, its N-th frame")
    explain.add_argument("--until", type=_duration, metavar="TIME", help="stop at this virtual time")
    _add_limit_option(explain)
    explain.set_defaults(handler=cmd_explain)

    for name, help_text, example, add_arguments, handler in _MODULE_COMMANDS:
        sub = command(name, help_text, example)
        add_arguments(sub)
        sub.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` (default: ``sys.argv[1:]``) and return its exit status.

    Ctrl-C, whenever it comes, is one line and status 130 (``interrupts.py``): the command's ``finally`` blocks
    close its captures first.
    """
    try:
        interrupts.command_starts()
        return _command(argv)
    except KeyboardInterrupt:
        print(interrupts.MESSAGE, file=sys.stderr)
        return interrupts.EXIT_STATUS
    finally:
        interrupts.HANDLER.raising = False  # back to exiting at once; no call, so no interrupt lands before it


def _command(argv: Sequence[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        warning = stale_warning()
        if warning:
            print(warning, file=sys.stderr)
        status = args.handler(args)
        sys.stdout.flush()  # before main returns: an interrupt after it exits at once
        return status
    except VSwitchError as exc:
        print(*error_lines(exc), sep="\n", file=sys.stderr)
        return USER_ERROR
    except BrokenPipeError:  # e.g. `vswitch show FILE | head`
        sys.stderr.close()
        return 0
