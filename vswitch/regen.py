"""Regenerate the committed captures: run every example topology and write its files to ``pcaps/<name>/``.

``python -m vswitch.regen`` (from the repository root) runs each ``topologies/*.yaml`` (not the ``bench/``
sub-folder) exactly as ``vswitch run FILE --out pcaps/<name> --html`` does (captures and ``report.html``), after removing the stale files of that
topology's folder, and prints one line per topology. ``tests/test_examples.py`` checks that a fresh run
reproduces these files byte for byte, so run this after changing a topology or anything that reaches a capture.

Exit status: 0 when every topology ran with all its expectations passing, 1 when an expectation failed (its
captures are still written), 2 on a user error (a bad file, a missing folder, two files with one name).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Sequence

from .core.errors import OutputFolderError, TopologyError, VSwitchError
from .report.ladder import LadderRecorder
from .report.page import run_html
from .scenario.runner import ScenarioRunner
from .topology.build import build_network
from .topology.loader import load_topology

DEFAULT_TOPOLOGIES = "topologies"
DEFAULT_OUT = "pcaps"
REPORT = "report.html"  # beside the captures, as `vswitch run FILE --html` writes it


def topology_files(folder: str | Path = DEFAULT_TOPOLOGIES) -> list[Path]:
    """The example topologies of ``folder``, sorted; sub-folders (``bench/``) are not examples."""
    return sorted(p for p in Path(folder).glob("*.yaml") if p.is_file())


def regenerate(path: Path, out_root: Path) -> tuple[str, Path, int, int, int]:
    """Run ``path`` into ``out_root/<name>/``; return (name, folder, files written, checks passed, checks)."""
    spec = load_topology(path)
    out_dir = out_root / spec.name
    try:
        if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):  # a file, a FIFO...
            out_dir.unlink()
        elif out_dir.exists():
            shutil.rmtree(out_dir)  # stale captures of a renamed point must not linger
    except OSError as exc:
        raise OutputFolderError(f"{path}: cannot remove the old captures {out_dir}: {exc.strerror or exc}") from None
    net = build_network(spec, capture_dir=out_dir, record=False)
    try:
        runner = ScenarioRunner(spec, net)
        recorder = LadderRecorder()
        recorder.watch(runner)
        result = runner.run()
    finally:
        net.close()
    report = out_dir / REPORT
    try:
        report.write_text(run_html(spec, build_network(spec, record=False), net, result, recorder, report),
                          encoding="utf-8")
    except OSError as exc:
        raise OutputFolderError(f"{path}: cannot write {report}: {exc.strerror or exc}") from None
    passed = sum(check.passed for check in result.checks)
    return spec.name, out_dir, len(net.captures.files) + 1, passed, len(result.checks)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help=f"topology files to regenerate (default: every {DEFAULT_TOPOLOGIES}/*.yaml)")
    parser.add_argument("--topologies", default=DEFAULT_TOPOLOGIES, metavar="DIR",
                        help=f"folder of example topologies (default: {DEFAULT_TOPOLOGIES})")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                        help=f"folder of the committed captures (default: {DEFAULT_OUT})")


def run(args: argparse.Namespace) -> int:
    if args.files:
        files = [Path(f) for f in args.files]
    else:
        if not Path(args.topologies).is_dir():
            print(f"vswitch regen: no folder {args.topologies}/ here: run it from the repository root",
                  file=sys.stderr)
            return 2
        files = topology_files(args.topologies)
    status = 0
    names: dict[str, Path] = {}
    for path in files:
        try:
            spec_name = load_topology(path).name
            if spec_name in names:
                raise TopologyError(f"{path}: the name {spec_name!r} is also used by {names[spec_name]}: "
                                   "each topology needs its own capture folder")
            names[spec_name] = path
            name, out_dir, written, passed, total = regenerate(path, Path(args.out))
        except VSwitchError as exc:
            print(str(exc), file=sys.stderr)  # FILE:LINE:COL: PATH: MESSAGE lines, like ``vswitch validate``
            status = 2
            continue
        verdict = "ok" if passed == total else "EXPECTATIONS FAILED"
        print(f"{path}: {written} files in {out_dir}/, expectations {passed}/{total} passed: {verdict}")
        if passed != total and status == 0:
            status = 1
    if not args.files and status != 2 and Path(args.out).is_dir():  # a bad file's folder is not an orphan
        for folder in sorted(p for p in Path(args.out).iterdir() if p.name not in names):
            print(f"vswitch regen: {folder}/ belongs to no topology: remove it (rm -r {folder})", file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vswitch.regen",
        description="Run every topologies/*.yaml (not bench/) and write its captures and report.html to "
                    "pcaps/<name>/, "
                    "replacing that folder's old files.",
        epilog="example: python -m vswitch.regen")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
