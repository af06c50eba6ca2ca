"""Real devices for ``vswitch live``: a network namespace with a veth per attached station, and their removal.

Every device vswitch creates is listed in a state file (``/run/vswitch-live/<pid>.json``) before it is made, so
that ``vswitch live-cleanup`` can remove what a killed run left, and nothing else: a namespace that already
exists is refused, never reused. The veths' outside ends, which vswitch reads and writes, live in a namespace of
vswitch's own (``vsl<pid>``) with no address: a stack there would answer the stations' ARP requests itself, as
the host's own namespace would (Linux answers for any address it has, on any interface).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..kernel.netns import CommandFailed, KernelLabError, run_command

STATE_DIR = Path("/run/vswitch-live")
PREFIX = "vsl"


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
    """The devices of one live run; use as a context manager: leaving it removes them all, whatever happened."""

    def __init__(self, state_dir: Path = STATE_DIR) -> None:
        self.state_file = state_dir / f"{os.getpid()}.json"
        self.hub = f"{PREFIX}{os.getpid()}"  # the namespace of the outside ends
        self.netns: list[str] = []
        self.links: list[str] = []

    def __enter__(self) -> LiveDevices:
        if os.geteuid() != 0 or shutil.which("ip") is None:
            raise LiveError("vswitch live creates network namespaces and veths: run it as root with iproute2 "
                            "installed (sudo vswitch live FILE)")
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self._save()
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def _save(self) -> None:
        self.state_file.write_text(json.dumps({"pid": os.getpid(), "netns": self.netns, "links": self.links}))

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

    def remove(self) -> None:
        """Remove every namespace and link of this run (deleting a namespace deletes its veth), then the state."""
        remove_listed(self.netns, self.links)
        self.netns, self.links = [], []
        self.state_file.unlink(missing_ok=True)


def remove_listed(netns: list[str], links: list[str]) -> list[str]:
    """Delete the namespaces and links named (a link went with its namespace unless it was moved out); return what
    was there to delete."""
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
        removed += remove_listed(list(listed.get("netns", [])), list(listed.get("links", [])))
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
