"""Reading a ready socket dry: what a station (``stations.py``) and a tunnel (``vxlan.py``) do when the pacer's
``select`` says their socket has something."""

from __future__ import annotations

import socket
from typing import Any, Callable, Optional


def drain(sock: socket.socket, size: int, take: Callable[[bytes, Any], Optional[bytes]]) -> list[bytes]:
    """Every datagram waiting on the non-blocking ``sock`` (up to ``size`` bytes each), in order, passed with its
    address through ``take``: the frames it returns (None: that datagram gives none)."""
    frames: list[bytes] = []
    while True:
        try:
            data, address = sock.recvfrom(size)
        except (BlockingIOError, InterruptedError):
            return frames
        frame = take(data, address)
        if frame is not None:
            frames.append(frame)
