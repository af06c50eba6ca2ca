"""A lazy source of frames for ``Datapath.send_stream``: one item at a time is pulled, checked and waits in the
engine (the datapath's ``_stream_pull``), so a stream of millions of frames holds one."""

from __future__ import annotations

from typing import Any, Callable, Iterator

from ..core import checks
from ..core.errors import ScenarioError
from ..core.frame import check_frame
from ..l2.port import Port

StreamItem = tuple[int, str, object]  # (time_ns, interface name, frame: bytes or bytes-like, checked when pulled)


class Stream:
    """A lazy source of frames to send: only its next item waits in the engine, kept on the stream (``port``...)."""

    __slots__ = ("items", "resolve", "ports", "on_frame", "port", "frame_id", "frame")

    def __init__(self, items: Iterator[Any], resolve: Callable[[str], Port],
                 on_frame: Callable[[int], None] | None = None) -> None:
        self.items = items  # of StreamItem, checked as each is pulled (a user's iterable)
        self.resolve = resolve
        self.ports: dict[str, Port] = {}  # interface name -> port, resolved once
        self.on_frame = on_frame  # told each frame id as it is given (a scenario names the stream's frames)
        self.port: Port | None = None  # the waiting item: its event's one argument is the stream (no tuple, no int)
        self.frame_id, self.frame = 0, b""


def stream_item(item: object) -> tuple[int, str, bytes]:
    """A stream item that is not exactly ``(int, str, bytes)``: a bytes-like frame is made bytes; anything else
    raises ``ScenarioError`` (``TopologyError`` for the interface name), in both builds."""
    if not isinstance(item, tuple) or len(item) != 3:
        raise ScenarioError(f"send_stream: an item is (time_ns, interface, frame), not {checks.describe(item)}")
    time_ns, name, frame = item
    return (checks.nanoseconds(time_ns, "send_stream: time_ns"), checks.text(name, "send_stream: interface"),
            check_frame(frame))
