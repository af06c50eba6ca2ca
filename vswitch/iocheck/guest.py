"""The guest ``vswitch io-check`` boots: a stock Debian kernel and a busybox initramfs that loads the NIC
driver from the installed kernel's modules, sets an address and pings the user-mode network's gateway.

The initramfs is written here (cpio ``newc``, gzip) from the host's files: ``/boot/vmlinuz-VERSION``, the
modules of ``/lib/modules/VERSION`` (with their dependencies, from ``modules.dep``) and a static busybox.
kernel-check's VM (``kernel/vm.py``) boots the same image with an init of its own and the lab's modules.
"""

from __future__ import annotations

import gzip
import io
import os
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import VSwitchError

#: The guest's address and the user-mode network's gateway, which answers pings itself (QEMU's slirp).
GUEST_IP = "10.0.2.15/24"
GATEWAY = "10.0.2.2"

#: NIC -> (QEMU device, the driver modules the guest loads: virtio-net needs the PCI transport as well).
NICS = {"e1000": ("e1000", ("e1000",)), "rtl8139": ("rtl8139", ("8139cp",)),
        "virtio": ("virtio-net-pci", ("virtio_pci", "virtio_net"))}

INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
for m in $(cat /modules); do insmod /lib/modules/$m || echo IOCHECK-FAILED insmod $m; done
N=$(sed -n 's/.*iocheck.pings=\\([0-9]*\\).*/\\1/p' /proc/cmdline)
ip link set lo up
ip link set eth0 up || echo IOCHECK-FAILED no eth0
ip addr add {ip} dev eth0
i=0
until ping -c 1 -W 1 {gateway} > /dev/null; do i=$((i+1)); [ $i -lt 30 ] || echo IOCHECK-FAILED no answer; done
echo IOCHECK-START
ping -c $N -A {gateway} | tail -2
echo IOCHECK-DONE
poweroff -f
"""


class IoCheckError(VSwitchError):
    """io-check cannot run: something it needs on this machine is missing (a package to install), the guest
    failed, or its arguments are wrong."""


@dataclass(frozen=True)
class GuestImage:
    kernel: Path
    modules_dir: Path
    busybox: Path


def find_image(boot: Path = Path("/boot"), modules: Path = Path("/lib/modules"), *, user: str = "io-check"
               ) -> GuestImage:
    """The newest kernel that has its modules installed, and a static busybox; ``user`` names the command that
    needs them in the errors."""
    kernels = sorted(boot.glob("vmlinuz-*"), reverse=True)
    for kernel in kernels:
        version = kernel.name.removeprefix("vmlinuz-")
        if (modules / version / "modules.dep").is_file():
            break
    else:
        raise IoCheckError(f"{user} needs a Linux kernel with its modules: apt-get install linux-image-amd64 "
                              "(found no /boot/vmlinuz-* with /lib/modules/VERSION)")
    if not os.access(kernel, os.R_OK):
        raise IoCheckError(f"{user} cannot read {kernel}: run it as root")
    busybox = next((p for p in (Path("/bin/busybox"), Path("/usr/bin/busybox")) if p.is_file()), None)
    if busybox is None or _is_dynamic(busybox):
        raise IoCheckError(f"{user} needs a static busybox: apt-get install busybox-static")
    return GuestImage(kernel, modules / version, busybox)


def _is_dynamic(path: Path) -> bool:
    """An ELF file with a program interpreter (PT_INTERP) is dynamically linked."""
    return b"/lib64/ld-linux" in path.read_bytes()[:8192]


def module_order(modules_dir: Path, modules: tuple[str, ...]) -> list[str]:
    """``modules`` and what they need, as paths relative to ``modules_dir``, in the order to load them."""
    deps: dict[str, list[str]] = {}
    for line in (modules_dir / "modules.dep").read_text().splitlines():
        name, _, needs = line.partition(":")
        deps[name] = needs.split()
    by_name = {Path(name).name.split(".ko")[0]: name for name in deps}
    order: list[str] = []

    def visit(name: str) -> None:
        for need in reversed(deps.get(name, [])):  # modprobe loads the last dependency first
            visit(need)
        if name not in order:
            order.append(name)

    for module in modules:
        if module not in by_name:
            raise IoCheckError(f"the kernel in {modules_dir} has no module {module}")
        visit(by_name[module])
    return order


def build_initramfs(image: GuestImage, nic: str, init: str | None = None, modules: tuple[str, ...] = ()) -> bytes:
    """The gzipped cpio archive: busybox, the driver modules of ``nic`` (none for '') and ``modules`` with their
    dependencies (listed in load order in ``/modules``) and the init script, io-check's unless ``init`` is given
    (``vswitch live``'s TAP test and kernel-check's VM boot their own)."""
    order = module_order(image.modules_dir, (*(NICS[nic][1] if nic else ()), *modules))
    archive = _Cpio()
    for folder in ("bin", "dev", "proc", "sys", "lib", "lib/modules"):
        archive.add(folder, 0o040755, b"")
    archive.add("dev/console", 0o020600, b"", rdev=(5, 1))
    archive.add("bin/busybox", 0o100755, image.busybox.read_bytes())
    for path in order:
        archive.add(f"lib/modules/{Path(path).name}", 0o100644, (image.modules_dir / path).read_bytes())
    archive.add("modules", 0o100644, "".join(f"{Path(p).name}\n" for p in order).encode())
    archive.add("init", 0o100755, (init or INIT.format(ip=GUEST_IP, gateway=GATEWAY)).encode())
    return gzip.compress(archive.finish(), compresslevel=1, mtime=0)


class _Cpio:
    """A cpio archive in the ``newc`` format the kernel unpacks."""

    def __init__(self) -> None:
        self._out = io.BytesIO()
        self._ino = 1

    def add(self, name: str, mode: int, data: bytes, rdev: tuple[int, int] = (0, 0)) -> None:
        fields = (self._ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0)
        self._ino += 1
        self._out.write(b"070701" + b"".join(b"%08X" % value for value in fields))
        self._out.write(name.encode() + b"\0")
        self._pad()
        self._out.write(data)
        self._pad()

    def _pad(self) -> None:
        self._out.write(b"\0" * (-self._out.tell() % 4))

    def finish(self) -> bytes:
        self.add("TRAILER!!!", 0, b"")
        return self._out.getvalue()
