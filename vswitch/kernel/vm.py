"""kernel-check's kernel side in a QEMU virtual machine, for files whose VLANs this machine's kernel cannot build.

The VM boots io-check's image (``iocheck/guest.py``: a stock Debian kernel from ``/boot`` with its modules, and a
static busybox) under QEMU's TCG. Its initramfs loads virtio-9p, ``8021q``, ``bridge``, ``macvlan`` and ``veth``
from ``/lib/modules/VERSION`` (in ``modules.dep`` order), mounts this machine's root file system read-only over
virtio-9p, and chroots into it with its own ``/proc``, ``/sys``, ``/dev`` and ``/run`` (a tmpfs, ``TMPDIR`` too;
the rest, ``/tmp`` included, is this machine's, read-only). There it runs the same command with ``--vm never``:
the same Python, the same vswitch, the same file, from the same folder. Its
stdout, stderr and exit status go to a second, writable 9p share (a temporary folder here), which this process
prints and returns. So both sides of the comparison run in the VM, exactly as on a machine whose kernel has
VLANs; only the clock is slower (TCG runs the guest tens of times slower than the host).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..iocheck.guest import GuestImage, IoCheckError, build_initramfs, find_image, module_order
from ..iocheck.qemu import QEMU
from ..realtime import stopwatch_s
from .compare import KernelCheckError

#: What the lab needs that a Debian kernel has as modules: the 9p root first, then the lab's devices.
MODULES = ("virtio_pci", "9pnet_virtio", "9p", "8021q", "bridge", "macvlan", "veth")
ROOT_TAG, OUT_TAG = "vswitch-root", "vswitch-out"
OUT = "/run/vswitch-vm"  # where the writable share is, inside the VM's chroot (the host's /tmp stays visible)
OWN_FOLDERS = tuple(Path(p) for p in ("/proc", "/sys", "/dev", "/run"))  # the VM's own, hiding this machine's
MEMORY_MB = 1024
TIMEOUT_S = 1800.0
DONE = "VSWITCH-VM-DONE"
_ESCAPES = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|c)")  # the firmware's terminal codes on the console

INIT = f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
for m in $(cat /modules); do insmod /lib/modules/$m || echo "VSWITCH-VM-FAILED: insmod $m"; done
fail() {{ echo "VSWITCH-VM-FAILED: $*"; poweroff -f; }}
mkdir -p /root
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose {ROOT_TAG} /root || fail mount the root
for fs in proc:proc sysfs:sys devtmpfs:dev tmpfs:run; do
  mount -t ${{fs%%:*}} ${{fs#*:}} /root/${{fs#*:}} || fail mount /${{fs#*:}}
done
mkdir -p /root{OUT} && mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 {OUT_TAG} /root{OUT} \\
  || fail mount the output share
chroot /root /bin/sh {OUT}/run.sh
echo {DONE}
poweroff -f
"""

RUN = """export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \\
  PYTHONIOENCODING=utf-8 PYTHONPYCACHEPREFIX={out}/pycache PYTHONPATH={path} TMPDIR=/run/tmp
unset PYTHONDONTWRITEBYTECODE
mkdir -p /run/tmp
cd {cwd} || exit
{command} > {out}/stdout 2> {out}/stderr
echo $? > {out}/status
"""


@dataclass(frozen=True)
class VMResult:
    """What the command printed in the VM, its exit status, the guest's kernel and the wall time of it all."""

    stdout: str
    stderr: str
    status: int
    kernel: Path
    seconds: float


def unavailable() -> str:
    """Why kernel-check cannot run in a VM here ('' if it can)."""
    if shutil.which(QEMU) is None:
        return f"kernel-check's VM needs {QEMU}: apt-get install qemu-system-x86"
    try:
        module_order(find_image(user="kernel-check's VM").modules_dir, MODULES)  # every module there
    except IoCheckError as exc:
        return str(exc)
    return ""


def run_in_vm(argv: list[str], *, timeout_s: float = TIMEOUT_S) -> VMResult:
    """Run ``python -m vswitch ARGV`` (this Python, this vswitch, this folder) as root in the VM."""
    problem = unavailable()
    if problem:
        raise KernelCheckError(problem)
    image = find_image(user="kernel-check's VM")
    package_root = Path(__file__).resolve().parents[2]  # the folder that holds the vswitch package
    command = shlex.join([sys.executable, "-m", "vswitch", *argv])
    t0 = stopwatch_s()
    with tempfile.TemporaryDirectory(prefix="vswitch-vm-") as folder:
        out = Path(folder)
        (out / "run.sh").write_text(RUN.format(path=shlex.quote(str(package_root)), cwd=shlex.quote(os.getcwd()),
                                               command=command, out=OUT))
        _compile(out / "pycache", package_root)
        initrd = out / "initrd.gz"
        initrd.write_bytes(build_initramfs(image, "", init=INIT, modules=MODULES))
        console = _boot(image, initrd, out, timeout_s)
        status = out / "status"
        if DONE not in console or "VSWITCH-VM-FAILED" in console or not status.is_file():
            lines = [line.strip() for line in _ESCAPES.sub("", console).splitlines() if line.strip()]
            tail = " | ".join(lines[-6:])
            raise KernelCheckError(f"kernel-check's VM ({QEMU}, {image.kernel}) failed: {tail or 'no output'}")
        return VMResult((out / "stdout").read_text(errors="replace"), (out / "stderr").read_text(errors="replace"),
                        int(status.read_text().strip() or 1), image.kernel, stopwatch_s() - t0)


def _compile(prefix: Path, package_root: Path) -> None:
    """Byte-compile here what the command imports (vswitch, Scapy, the standard library) into ``prefix``, which
    the VM's Python reads (``PYTHONPYCACHEPREFIX``): compiling there, under TCG, would take it seconds more."""
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(prefix), "PYTHONPATH": str(package_root)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-c", "import vswitch.cli"], env=env, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)  # a failure: the VM compiles


def _boot(image: GuestImage, initrd: Path, out: Path, timeout_s: float) -> str:
    """Boot the VM until it powers off; its console output. Ctrl-C or a timeout kill it (nothing of the lab is
    left: it lived in the VM's kernel)."""
    command = [QEMU, "-accel", "tcg", "-m", str(MEMORY_MB), "-nographic", "-vga", "none", "-no-reboot", "-nic", "none",
               "-kernel", str(image.kernel), "-initrd", str(initrd),
               "-append", "console=ttyS0 quiet loglevel=3 panic=-1",
               "-virtfs", f"local,path=/,mount_tag={ROOT_TAG},security_model=none,readonly=on,multidevs=remap",
               "-virtfs", f"local,path={out},mount_tag={OUT_TAG},security_model=none"]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, errors="replace")
    try:
        console, _ = process.communicate(timeout=timeout_s)
        return console
    except subprocess.TimeoutExpired:
        raise KernelCheckError(f"kernel-check's VM did not finish within {timeout_s:g} s") from None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def check_in_vm(args: argparse.Namespace, why: str) -> int:
    """``vswitch kernel-check`` with ``args`` in the VM, its output printed here under a line that says so and
    ``why``; its exit status."""
    for what, path in (("the file", Path(args.file).resolve()), ("the current folder", Path.cwd())):
        hidden = next((top for top in OWN_FOLDERS if path.is_relative_to(top)), None)
        if hidden is not None:
            raise KernelCheckError(f"{args.file}: kernel-check's VM cannot see {what}, {path}: the VM has a {hidden} of "
                                   f"its own; copy the file elsewhere, or run from another folder")
    result = run_in_vm(["kernel-check", args.file, "--vm", "never", "--prefix", args.prefix,
                        "--max-frames", str(args.max_frames), "--settle", f"{round(args.settle * 1e9)}ns",
                        "--max-wait", f"{round(args.max_wait * 1e9)}ns"])
    if result.status in (0, 1):  # a report (a mistake prints nothing on stdout)
        print(f"kernel-check ran in a QEMU (TCG) virtual machine with {result.kernel} and its modules, {why}; "
              f"both sides ran there ({result.seconds:.1f}s in all, boot included)\n")
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.status
