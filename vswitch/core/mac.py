"""MAC addresses: parsing, classification, hypervisor vendor prefixes and a deterministic allocator.

On the fast path a MAC is the 6 raw bytes sliced out of a frame; ``MACAddress`` is the value type used at the
API and in files, and converts both ways (``MACAddress.packed`` / ``MACAddress(bytes)``).
"""

from __future__ import annotations

import re
from functools import total_ordering
from typing import Iterable, Iterator, Union

from .errors import AddressError

BROADCAST_BYTES = b"\xff" * 6

#: Organisationally unique identifiers that hypervisors allocate guest MACs from.
VENDOR_PREFIXES: dict[str, str] = {
    "xen": "00:16:3e",
    "qemu": "52:54:00",
    "kvm": "52:54:00",
    "vmware": "00:50:56",
    "hyperv": "00:15:5d",
    "virtualbox": "08:00:27",
}

#: Display name of each known OUI (for reports).
VENDOR_NAMES: dict[bytes, str] = {
    bytes.fromhex("00163e"): "Xen",
    bytes.fromhex("525400"): "QEMU/KVM",
    bytes.fromhex("005056"): "VMware",
    bytes.fromhex("00155d"): "Hyper-V",
    bytes.fromhex("080027"): "VirtualBox",
}

_COLON = re.compile(r"^[0-9a-fA-F]{1,2}([:-])[0-9a-fA-F]{1,2}(\1[0-9a-fA-F]{1,2}){4}$")
_CISCO = re.compile(r"^[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}$")
_BARE = re.compile(r"^[0-9a-fA-F]{12}$")

MACLike = Union["MACAddress", str, bytes, int]


def _parse_text(text: str) -> bytes:
    s = text.strip()
    if _COLON.match(s):
        return bytes(int(part, 16) for part in re.split(r"[:-]", s))
    if _CISCO.match(s) or _BARE.match(s):
        return bytes.fromhex(s.replace(".", ""))
    raise AddressError(
        f"invalid MAC address {text!r}: write six hex octets, e.g. 52:54:00:ab:cd:ef, "
        "52-54-00-AB-CD-EF or 5254.00ab.cdef"
    )


@total_ordering
class MACAddress:
    """A 48-bit IEEE 802 MAC address (immutable, hashable, ordered)."""

    __slots__ = ("packed",)
    packed: bytes

    def __init__(self, value: object) -> None:
        """``value``: a ``MACLike``; anything else is an ``AddressError``."""
        if isinstance(value, MACAddress):
            packed = value.packed
        elif isinstance(value, (bytes, bytearray)):
            if len(value) != 6:
                raise AddressError(f"a MAC address is 6 bytes, got {len(value)}: {bytes(value).hex()}")
            packed = bytes(value)
        elif isinstance(value, str):
            packed = _parse_text(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value < 1 << 48:
                raise AddressError(f"MAC address integer out of range: {value}")
            packed = value.to_bytes(6, "big")
        else:
            raise AddressError(f"cannot make a MAC address from {type(value).__name__} {value!r}")
        object.__setattr__(self, "packed", packed)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("MACAddress is immutable")

    # -- classification -------------------------------------------------------------------------
    @property
    def is_broadcast(self) -> bool:
        """ff:ff:ff:ff:ff:ff."""
        return self.packed == BROADCAST_BYTES

    @property
    def is_multicast(self) -> bool:
        """True for group addresses (I/G bit set); broadcast is a multicast too."""
        return bool(self.packed[0] & 1)

    @property
    def is_unicast(self) -> bool:
        """The group bit (the lowest bit of the first byte) is clear."""
        return not self.packed[0] & 1

    @property
    def is_locally_administered(self) -> bool:
        """The U/L bit is set: an address chosen locally, not from a vendor's OUI (02:...)."""
        return bool(self.packed[0] & 2)

    @property
    def oui(self) -> bytes:
        """The first three bytes: the vendor's Organizationally Unique Identifier."""
        return self.packed[:3]

    @property
    def vendor(self) -> str:
        """The hypervisor vendor owning this OUI, or a description of the address kind."""
        if self.is_broadcast:
            return "broadcast"
        if self.is_multicast:
            return "multicast"
        name = VENDOR_NAMES.get(self.oui)
        if name:
            return name
        return "locally administered" if self.is_locally_administered else "other"

    # -- conversions ------------------------------------------------------------------------------
    def __int__(self) -> int:
        return int.from_bytes(self.packed, "big")

    def __str__(self) -> str:
        return ":".join(f"{b:02x}" for b in self.packed)

    def __repr__(self) -> str:
        return f"MACAddress('{self}')"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MACAddress):
            return self.packed == other.packed
        return NotImplemented  # not equal to text: equal objects must hash alike; compare str(mac)

    def __lt__(self, other: "MACAddress") -> bool:
        if not isinstance(other, MACAddress):
            return NotImplemented
        return self.packed < other.packed

    def __hash__(self) -> int:
        return hash(self.packed)


BROADCAST = MACAddress(BROADCAST_BYTES)


def mac_str(packed: bytes) -> str:
    """Format 6 raw bytes as ``aa:bb:cc:dd:ee:ff`` (cheap; for reports and trace text)."""
    return packed.hex(":")


def prefix_bytes(prefix: object) -> bytes:
    """Resolve a vendor name (``qemu``) or a 3-octet prefix (``52:54:00``) to 3 bytes."""
    if not isinstance(prefix, str):
        raise AddressError(f"a MAC prefix is a str (a vendor or three octets like 52:54:00), "
                           f"not {type(prefix).__name__} {prefix!r}")
    known = VENDOR_PREFIXES.get(prefix.lower())
    text = known or prefix
    parts = re.split(r"[:-]", text.strip())
    try:
        if len(parts) != 3:
            raise ValueError
        octets = bytes(int(p, 16) for p in parts)
    except ValueError:
        names = ", ".join(sorted(VENDOR_PREFIXES))
        raise AddressError(f"invalid MAC prefix {prefix!r}: use a vendor ({names}) or three octets like 52:54:00")
    if octets[0] & 1:
        raise AddressError(f"MAC prefix {prefix!r} is multicast (lowest bit of the first octet is set)")
    return octets


class MACAllocator:
    """Hands out MACs deterministically from per-prefix counters, never a duplicate.

    Addresses already in use (``reserve``) are skipped. Allocation starts at ``<prefix>:00:00:01``.
    """

    def __init__(self) -> None:
        self._used: set[bytes] = set()
        self._avoid: set[bytes] = set()
        self._next: dict[bytes, int] = {}

    def avoid(self, macs: object) -> None:
        """Never allocate these (addresses a file gives explicitly, maybe further down): an iterable of
        ``MACLike``."""
        if not isinstance(macs, Iterable) or isinstance(macs, (str, bytes, bytearray)):
            raise AddressError(f"avoid takes an iterable of MAC addresses, not {type(macs).__name__} {macs!r}")
        self._avoid.update(MACAddress(m).packed for m in macs)

    def reserve(self, mac: object) -> MACAddress:
        """Mark ``mac`` as taken; raise ``AddressError`` if it already is."""
        address = MACAddress(mac)
        if address.packed in self._used:
            raise AddressError(f"duplicate MAC {address}")
        self._used.add(address.packed)
        return address

    def is_used(self, mac: object) -> bool:
        """Whether ``mac`` was reserved or allocated already."""
        return MACAddress(mac).packed in self._used

    def allocate(self, prefix: object = "qemu") -> MACAddress:
        """The next unused MAC under ``prefix`` (a vendor name such as ``qemu``, ``xen``, or an OUI like ``52:54:00``)."""
        oui = prefix_bytes(prefix)
        counter = self._next.get(oui, 1)
        while counter < 1 << 24:
            packed = oui + counter.to_bytes(3, "big")
            counter += 1
            if packed not in self._used and packed not in self._avoid:
                self._next[oui] = counter
                self._used.add(packed)
                return MACAddress(packed)
        raise AddressError(f"MAC prefix {mac_str(oui)} is exhausted")

    def __iter__(self) -> Iterator[MACAddress]:
        return (MACAddress(p) for p in sorted(self._used))
