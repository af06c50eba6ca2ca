"""``vswitch run FILE... --jobs N``: several topology files, each run in a process of a pool of N.

Each file runs exactly as ``vswitch run FILE`` does (the CLI's own per-file function), with its stdout and stderr
captured; the parent prints them in the order the files were given, each as soon as it and every file before it
are done, then one summary table. The exit status is the worst of the files' (2, a mistake in a file, over 1, a
failed expectation, over 0). Outputs do not depend on N: the files are independent runs, and each run is
deterministic. Standard library only (``concurrent.futures``); the default start method of the platform (fork on
Linux, so a worker starts in milliseconds with vswitch already imported).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

from tabulate import tabulate

from .core.errors import VSwitchError, error_lines
from .core.units import count

USER_ERROR = 2


@dataclass
class FileRun:
    """One file's run: its exit status, what it printed, and its row of the summary table."""

    file: str
    status: int
    out: str = ""
    err: str = ""
    topology: str = ""  # its name; "" when the file could not be read
    expectations: str = ""  # "3/3"
    frames: int | None = None
    errors: list[str] = field(default_factory=list)  # one line per problem, for --format json

    @property
    def result(self) -> str:
        return {0: "passed", 1: "FAILED"}.get(self.status, "error")


def captured(run_one: Callable[[str], FileRun], file: str) -> FileRun:
    """``run_one(file)`` with what it prints captured; a ``VSwitchError`` becomes status 2 and its lines."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            run = run_one(file)
        except VSwitchError as exc:
            run = failed(file, exc)
            print(run.err, end="", file=sys.stderr)
    run.out, run.err = out.getvalue(), err.getvalue()
    return run


def failed(file: str, exc: VSwitchError) -> FileRun:
    """The outcome of a file that could not be read or run: status 2 and its error lines."""
    lines = error_lines(exc)
    return FileRun(file, USER_ERROR, err="".join(f"{line}\n" for line in lines),
                   errors=[line.removeprefix("vswitch: ") for line in lines])


def in_order(files: Sequence[str], run_one: Callable[[str], FileRun], jobs: int,
             done: Sequence[FileRun | None] = ()) -> Iterator[FileRun]:
    """Each file's ``FileRun``, in the order of ``files``, running up to ``jobs`` at a time in worker processes
    (in this process when ``jobs`` is 1). ``done[k]``, when given and not None, is file k's outcome already (a
    file the parent could not read): it is not run again."""
    known = list(done) + [None] * (len(files) - len(done))
    todo = [f for f, d in zip(files, known) if d is None]
    if jobs == 1 or len(todo) <= 1:
        for file, outcome in zip(files, known):
            yield outcome if outcome is not None else captured(run_one, file)
        return
    with ProcessPoolExecutor(max_workers=min(jobs, len(todo))) as pool:
        futures: list[Future[FileRun] | FileRun] = [
            outcome if outcome is not None else pool.submit(captured, run_one, file)
            for file, outcome in zip(files, known)]
        try:
            for item in futures:
                yield item if isinstance(item, FileRun) else item.result()
        except BaseException:  # Ctrl-C, or the caller stopped early: start nothing more
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def print_runs(files: Sequence[str], run_one: Callable[[str], FileRun], jobs: int,
               done: Sequence[FileRun | None] = (), *, as_json: bool = False) -> int:
    """Run ``files`` (``in_order``) and print each one's report under its name as it comes, its errors on stderr,
    then the summary table (with ``as_json``: one JSON list, an object per file); return the worst status."""
    runs = []
    for run in in_order(files, run_one, jobs, done):
        runs.append(run)
        if not as_json:
            print(f"== {run.file} ==")
            print(run.out, end="")
        sys.stdout.flush()
        sys.stderr.write(run.err)
        sys.stderr.flush()
    if as_json:
        print(json.dumps([{"file": r.file, "exit_status": r.status, "errors": r.errors,
                           "report": json.loads(r.out) if r.out.strip() else None} for r in runs], indent=2))
    else:
        print(f"\n{summary_table(runs)}")
    return worst(runs)


def summary_table(runs: Sequence[FileRun]) -> str:
    """One row per file, in order, and the totals."""
    rows = [(r.file, r.topology or "-", r.result, r.expectations or "-",
             f"{r.frames:,}" if r.frames is not None else "-", r.status) for r in runs]
    table = tabulate(rows, headers=("file", "topology", "result", "expectations", "frames sent", "exit"),
                     disable_numparse=True)
    tally = {word: sum(r.result == word for r in runs) for word in ("passed", "FAILED", "error")}
    return (f"{table}\n{count(len(runs), 'file')}: {tally['passed']} passed, {tally['FAILED']} failed, "
            f"{tally['error']} with errors; exit status {worst(runs)}")


def worst(runs: Sequence[FileRun]) -> int:
    """The exit status of the whole: the worst file's (2 over 1 over 0)."""
    return max((r.status for r in runs), default=0)
