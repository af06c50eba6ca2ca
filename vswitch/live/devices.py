"""Real devices for ``vswitch live``: a network namespace with a veth per attached station, a TAP device per
attached VM, the check that an attached interface exists, and their removal.

Every device vswitch creates is listed in a state file (``/run/vswitch-live/<pid>.json``) before it is made, so
that ``vswitch live-cleanup`` can remove what a killed run left, and nothing else: a namespace that already
exists is refused, never reused. The veths' outside ends, which vswitch reads and writes, live in a namespace of
vswitch's own (``vsl<pid>``) with no address: a stack there would answer the stations' ARP requests itself, as
the host's own namespace would (Linux answers for any address it has, on any interface).

A TAP device is made in the namespace vswitch runs in, where QEMU looks for it by name; it is persistent (``ip
tuntap add``), so that QEMU can open it while vswitch reads and writes it with an AF_PACKET socket, and marked
with an alias (``vswitch-live:<pid>``) that cleanup checks before deleting it: a device of the same name that
the user made since is left alone. The host's stack is kept off it (no IPv6, no ARP answers), as a wire's.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from ..kernel.netns import CommandFailed, KernelLabError, run_command

STATE_DIR = Path("/run/vswitch-live")
PREFIX = "vsl"
IFF_UP = 0x1  # <linux/if.h>, in /sys/class/net/NAME/flags
TAP_MARK = "vswitch-live:"  # + the run's pid: the alias of the TAP devices a run made


class LiveError(KernelLabError):
    """A live run cannot set up or remove its real devices (not root, a namespace that exists, ``ip`` failed)."""


@dataclass(frozen=True)
class NetnsStation:
    """A station's namespace: ``netns`` holds ``eth0`` (the veth's inside end); ``outside``, in namespace ``hub``,
    is read and written."""

    netns: str
    outside: str
    hub: str


def _run(*args: str) -> str:
    try:
        return run_command(*args)
    except CommandFailed as exc:
        raise LiveError(str(exc)) from None


def _existing_netns() -> set[str]:
    return {line.split()[0] for line in run_command("ip", "netns", "list").splitlines() if line.strip()}


class LiveDevices:
    """The devices of one live run; use as a context manager: leaving it removes them all, whatever happened.
    ``usage``: the command line that made them, for the message that asks for root."""

    def __init__(self, state_dir: Path = STATE_DIR, usage: str = "vswitch live FILE") -> None:
        self.usage = usage
        self.state_file = state_dir / f"{os.getpid()}.json"
        self.hub = f"{PREFIX}{os.getpid()}"  # the namespace of the outside ends
        self.netns: list[str] = []
        self.links: list[str] = []
        self.taps: list[str] = []

    def __enter__(self) -> LiveDevices:
        if os.geteuid() != 0 or shutil.which("ip") is None:
            raise LiveError(f"{self.usage.removesuffix(' FILE')} creates network namespaces and veths: run it as root "
                            f"with iproute2 installed (sudo {self.usage})")
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self._save()
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def _save(self) -> None:
        self.state_file.write_text(json.dumps({"pid": os.getpid(), "netns": self.netns, "links": self.links,
                                               "taps": self.taps}))

    def add_netns_station(self, netns: str, mac: str, ip: Optional[str]) -> NetnsStation:
        """Create namespace ``netns`` with ``eth0`` (``mac``, ``ip``) up, and the outside end of its veth."""
        if netns in _existing_netns():
            raise LiveError(f"network namespace {netns!r} already exists: vswitch live makes its own; choose another "
                            f"name or remove it (ip netns del {netns})")
        outside = f"{PREFIX}{os.getpid() % 100000}-{len(self.links)}"  # at most 15 characters (IFNAMSIZ - 1)
        new_hub = self.hub not in self.netns
        self.netns += [self.hub, netns] if new_hub else [netns]
        self.links.append(outside)
        self._save()  # before making them: a kill in between leaves nothing unlisted
        if new_hub:
            _run("ip", "netns", "add", self.hub)
        _run("ip", "netns", "add", netns)
        _run("ip", "-n", self.hub, "link", "add", outside, "type", "veth", "peer", "name", f"{outside}i",
             "netns", netns)
        _run("ip", "-n", netns, "link", "set", f"{outside}i", "name", "eth0")
        _run("ip", "-n", netns, "link", "set", "eth0", "address", mac)
        if ip:
            _run("ip", "-n", netns, "addr", "add", ip, "dev", "eth0")
        _run("ip", "-n", netns, "link", "set", "lo", "up")
        _run("ip", "-n", netns, "link", "set", "eth0", "up")
        run_command("ip", "netns", "exec", self.hub, "sysctl", "-qw", f"net.ipv6.conf.{outside}.disable_ipv6=1",
                    check=False)  # a wire, not a host: no router solicitations of its own
        _run("ip", "-n", self.hub, "link", "set", outside, "up")
        if shutil.which("ethtool"):  # whole frames with their checksums, as on a wire (veth offloads them)
            for feature in ("tx", "tso", "gso", "gro"):
                run_command("ip", "netns", "exec", netns, "ethtool", "-K", "eth0", feature, "off", check=False)
        return NetnsStation(netns, outside, self.hub)

    def add_netns_pair(self, netns_a: str, mac_a: str, netns_b: str, mac_b: str) -> None:
        """Create namespaces ``netns_a`` and ``netns_b`` joined by one veth, ``eth0`` in each, up, no address: a
        cable with no switch (``bench --live``'s baseline)."""
        for netns in (netns_a, netns_b):
            if netns in _existing_netns():
                raise LiveError(f"network namespace {netns!r} already exists: remove it (ip netns del {netns})")
        self.netns += [netns_a, netns_b]
        self._save()
        for netns in (netns_a, netns_b):
            _run("ip", "netns", "add", netns)
        _run("ip", "-n", netns_a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", netns_b)
        for netns, mac in ((netns_a, mac_a), (netns_b, mac_b)):
            _run("ip", "-n", netns, "link", "set", "eth0", "address", mac, "up")

    def add_tap(self, name: str) -> str:
        """Create the TAP device ``name``, up, with no address and the host's stack kept off it; owned by the user
        who ran sudo (if so), so that their QEMU may open it without root."""
        if _link_exists(name):
            raise LiveError(f"an interface named {name!r} already exists: vswitch live makes its own TAP; choose "
                            f"another name, or attach the one you made with interface: {name}")
        self.taps.append(name)
        self._save()
        sudo_uid = os.environ.get("SUDO_UID", "")
        _run("ip", "tuntap", "add", "dev", name, "mode", "tap", *(("user", sudo_uid) if sudo_uid.isdigit() else ()))
        _run("ip", "link", "set", name, "alias", f"{TAP_MARK}{os.getpid()}")
        for setting in (f"net.ipv6.conf.{name}.disable_ipv6=1",  # no router solicitations or MLD of its own
                        f"net.ipv4.conf.{name}.arp_ignore=8"):  # nor ARP answers for the host's addresses
            run_command("sysctl", "-qw", setting, check=False)
        _run("ip", "link", "set", name, "up")
        return name

    def remove(self) -> None:
        """Remove every namespace, link and TAP of this run (deleting a namespace deletes its veth), then the
        state."""
        remove_listed(self.netns, self.links, self.taps, os.getpid())
        self.netns, self.links, self.taps = [], [], []
        self.state_file.unlink(missing_ok=True)


def check_interface(name: str) -> str:
    """``name`` if it is an interface of this namespace; a ``LiveError`` saying what to do otherwise."""
    if not _link_exists(name):
        raise LiveError(f"interface {name!r} does not exist: attach: {{interface: NAME}} takes one that exists "
                        f"(ip link show); for a TAP that vswitch live makes, write tap: {name}")
    if not int(Path("/sys/class/net", name, "flags").read_text(), 16) & IFF_UP:
        raise LiveError(f"interface {name!r} is down: it would carry nothing; bring it up first (ip link set {name} "
                        f"up)")
    return name


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def _tap_of_run(name: str, pid: int) -> bool:
    """Whether ``name`` is a TAP that run ``pid`` made (its alias says so)."""
    try:
        return Path("/sys/class/net", name, "ifalias").read_text().strip() == f"{TAP_MARK}{pid}"
    except OSError:
        return False


def remove_listed(netns: Sequence[str], links: Sequence[str], taps: Sequence[str] = (), pid: int = 0) -> list[str]:
    """Delete the namespaces and links named (a link went with its namespace unless it was moved out), and the
    TAPs run ``pid`` made; return what was there to delete."""
    removed = []
    existing = _existing_netns()
    for name in netns:
        if name in existing:
            run_command("ip", "netns", "del", name, check=False)
            removed.append(f"netns {name}")
    for link in links:
        if run_command("ip", "link", "show", link, check=False).strip():
            run_command("ip", "link", "del", link, check=False)
            removed.append(f"link {link}")
    for tap in taps:
        if _tap_of_run(tap, pid):
            run_command("ip", "link", "del", tap, check=False)
            removed.append(f"tap {tap}")
    return removed


def cleanup(state_dir: Path = STATE_DIR) -> list[str]:
    """Remove what killed live runs left (their state files name it); runs still alive are left alone."""
    removed = []
    for state in sorted(state_dir.glob("*.json")) if state_dir.is_dir() else []:
        try:
            listed = json.loads(state.read_text())
            pid = int(listed["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if pid != os.getpid() and _alive(pid):
            continue
        removed += remove_listed(list(listed.get("netns", [])), list(listed.get("links", [])),
                                 list(listed.get("taps", [])), pid)
        state.unlink(missing_ok=True)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
