"""Read ``attach:``, which puts a real station on a NIC or VM in ``vswitch live`` (docs/live.md).

``attach: {netns: NAME}`` makes ``vswitch live`` create the network namespace NAME with a veth whose inside end is
``eth0``, with the station's MAC and ``ip``; the real Linux stack in NAME is then the station. ``vswitch run``
ignores it: there, vswitch's own stack (``ip``) stands in for the real one, so one file serves both.
"""

from __future__ import annotations

from typing import Optional

from .fields import where
from .spec import AttachSpec
from .yamlreader import MapReader

MAX_NETNS_NAME = 32  # ``ip netns`` allows more; a name this long is already unreadable in `ip netns list`
ATTACH_KINDS = ("netns",)


def netns_name(value: object) -> str:
    """A network namespace name: letters, digits, '-' and '_' (it becomes a file in /run/netns)."""
    if not isinstance(value, str) or not value or not all(c.isalnum() or c in "-_" for c in value):
        raise ValueError(f"invalid namespace name {value!r}: use letters, digits, '-' and '_', e.g. netns: red")
    if len(value) > MAX_NETNS_NAME:
        raise ValueError(f"namespace name {value!r} is longer than {MAX_NETNS_NAME} characters")
    return value


def read_attach(r: MapReader) -> Optional[AttachSpec]:
    """The ``attach`` key of a host (one NIC), a NIC of ``nics`` or a VM; None without it."""
    if "attach" not in r.mapping:
        return None
    attach = r.take_map("attach")
    name = attach.take("netns", netns_name, default=None)
    if isinstance(r.mapping.get("attach"), dict) and not any(k in attach.mapping for k in ATTACH_KINDS):
        attach.error(None, "say what to attach: netns: NAME (a network namespace vswitch live creates)")
    attach.finish()
    return AttachSpec("netns", name, where(r, "attach")) if name is not None else None
