"""The keys that say where a built frame goes, shared by the ``send`` action (``scenario_reader.py``) and the
``stream`` action (``guest_reader.py``): ``from``, ``to`` or ``dst``, ``src`` and the ``udp`` header's fields."""

from __future__ import annotations

from typing import Any

from ..guests.inet import address_text
from ..guests.traffic import UdpFields
from .fields import mac_value
from .yamlreader import MapReader, integer_between, text


def _destination(value: object) -> object:
    return "broadcast" if value == "broadcast" else mac_value(value)


def read_addressing(r: MapReader) -> dict[str, Any]:
    """``from`` (the sending interface), ``to`` (an interface) or ``dst`` (a MAC or ``broadcast``), ``src``."""
    return {
        "from_": r.take("from", text),
        "to": r.take("to", text, default=None),
        "dst": r.take("dst", _destination, default=None),
        "src": r.take("src", mac_value, default=None),
    }


def read_udp(r: MapReader, keys: dict[str, Any]) -> None:
    """The ``udp`` map (``src_ip``, ``dst_ip``, ``sport``, ``dport``) into ``keys["udp"]`` when given: a UDP frame
    is IPv4, so an ``ethertype`` beside it is an error."""
    udp = r.take_map("udp", required=False)
    if "udp" in r.mapping:
        keys["udp"] = UdpFields(udp.take("src_ip", address_text), udp.take("dst_ip", address_text),
                                udp.take("sport", integer_between(0, 65535), default=1024),
                                udp.take("dport", integer_between(0, 65535), default=9))
        if keys["ethertype"] is not None:
            r.error("ethertype", "udp frames are IPv4 (0x0800): leave ethertype out")
    udp.finish()


def check_one_destination(r: MapReader, keys: dict[str, Any]) -> None:
    """Exactly one of ``to`` and ``dst``."""
    if (keys["to"] is None) == (keys["dst"] is None):
        r.error(None, "give exactly one of to (an interface) or dst (a MAC or broadcast)")
