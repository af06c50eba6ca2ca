"""Read ``attach:``, which puts a real station on a NIC or VM in ``vswitch live`` (docs/live.md).

- ``attach: {netns: NAME}``: ``vswitch live`` creates the network namespace NAME with a veth whose inside end is
  ``eth0``, with the station's MAC and ``ip``; the real Linux stack in NAME is then the station;
- ``attach: {tap: NAME}``: ``vswitch live`` creates the TAP device NAME for a real VM (QEMU's ``-netdev tap``);
- ``attach: {interface: NAME}``: an interface that exists already (one end of a veth the user made...).

``vswitch run`` ignores it: there, vswitch's own stack (``ip``) stands in for the real one, so one file serves both.
"""

from __future__ import annotations

from typing import Callable, Optional

from .fields import where
from .spec import AttachSpec
from .yamlreader import MapReader

MAX_NETNS_NAME = 32  # ``ip netns`` allows more; a name this long is already unreadable in `ip netns list`
MAX_LINK_NAME = 15  # IFNAMSIZ - 1: the kernel's limit for an interface name


def netns_name(value: object) -> str:
    """A network namespace name: letters, digits, '-' and '_' (it becomes a file in /run/netns)."""
    if not isinstance(value, str) or not value or not all(c.isalnum() or c in "-_" for c in value):
        raise ValueError(f"invalid namespace name {value!r}: use letters, digits, '-' and '_', e.g. netns: red")
    if len(value) > MAX_NETNS_NAME:
        raise ValueError(f"namespace name {value!r} is longer than {MAX_NETNS_NAME} characters")
    return value


def link_name(value: object) -> str:
    """An interface name: at most 15 ASCII letters, digits, '-' and '_' (no '.', which sysctl paths split on)."""
    if not isinstance(value, str) or not value or not all(c.isascii() and (c.isalnum() or c in "-_") for c in value):
        raise ValueError(f"invalid interface name {value!r}: use letters, digits, '-' and '_', e.g. tap: vm1tap")
    if len(value) > MAX_LINK_NAME:
        raise ValueError(f"interface name {value!r} is longer than {MAX_LINK_NAME} characters (the kernel's limit)")
    return value


#: kind -> (how its name is checked, what it is, for the message that lists them)
ATTACH_KINDS: dict[str, tuple[Callable[[object], str], str]] = {
    "netns": (netns_name, "a network namespace vswitch live creates"),
    "tap": (link_name, "a TAP device vswitch live creates, for a VM"),
    "interface": (link_name, "an existing interface"),
}


def read_attach(r: MapReader) -> Optional[AttachSpec]:
    """The ``attach`` key of a host (one NIC), a NIC of ``nics`` or a VM; None without it."""
    if "attach" not in r.mapping:
        return None
    attach = r.take_map("attach")
    given = [kind for kind in ATTACH_KINDS if kind in attach.mapping]
    names = {kind: attach.take(kind, ATTACH_KINDS[kind][0], default=None) for kind in ATTACH_KINDS}
    if isinstance(r.mapping.get("attach"), dict) and len(given) != 1:
        choices = "; ".join(f"{kind}: NAME ({what})" for kind, (_, what) in ATTACH_KINDS.items())
        attach.error(None, f"say what to attach, one of: {choices}" if not given else
                     f"attach one thing, not {' and '.join(given)}: keep one of them")
    attach.finish()
    if len(given) != 1 or names[given[0]] is None:
        return None
    return AttachSpec(given[0], names[given[0]], where(r, "attach"))
