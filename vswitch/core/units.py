"""Durations, rates and sizes as users write them in topology files, and compact forms for reports.

Parsers take what YAML gives (a string such as ``"50ms"``, or a number) and return an integer in the base
unit: nanoseconds, bits per second, bytes. Arithmetic is exact (``fractions.Fraction``, never float), so
``"0.1s"`` is exactly 100_000_000 ns, and a value that is not a whole number of the base unit is rejected.

A bare number is ambiguous for a duration or a rate, so only zero may be written without a unit; sizes
default to bytes. Rates are SI bits per second (``1Gbps`` = 10**9); their unit is case-insensitive,
except that ``Bps`` with a capital B conventionally means *bytes* per second and is rejected with a hint.
Beware that tc(8) spells megabits ``mbit`` and reads ``mbps`` as megabytes; here ``Mbps`` = ``mbps`` =
megabits.

A bad value raises a plain ``ValueError`` whose message shows the value and how to write it; the YAML
reader (``vswitch.yamlreader``) adds the file, line, column and field path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

_NUMBER = r"[+-]?(?:[0-9]{1,30}(?:\.[0-9]{1,30})?|\.[0-9]{1,30})"  # bounded digits, no exponent: exact and quick
_QUANTITY = re.compile(rf"(?P<number>{_NUMBER})\s*(?P<unit>[^\W\d_]+)?")
_DECIMAL = re.compile(_NUMBER)


def decimal_number(text: str) -> Fraction:
    """The exact value of a decimal written plainly (``2.5``, ``-3``, ``.5``: at most 30 digits each side of the
    point, no exponent); ``ValueError`` otherwise. ``Fraction`` alone would build ``10**30000000`` for
    ``1e30000000``, which takes minutes."""
    if not _DECIMAL.fullmatch(text.strip()):
        raise ValueError(f"not a plain decimal number: {text[:40]!r}")
    return Fraction(text.strip())


@dataclass(frozen=True)
class _Kind:
    name: str
    base_unit: str
    factors: dict[str, int]
    unit_list: str
    example: str
    bare_number_units: tuple[str, ...]  # () if a bare number is taken in the base unit
    fold_case: bool


DURATION = _Kind(
    name="duration",
    base_unit="nanoseconds",
    factors={"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9, "min": 60 * 10**9,
             "h": 3600 * 10**9},
    unit_list="ns, us, ms, s, min or h",
    example="300s, 50ms or 5us",
    bare_number_units=("s", "ms", "us", "ns"),
    fold_case=False,
)
RATE = _Kind(
    name="rate",
    base_unit="bits per second",
    factors={"bps": 1, "kbps": 10**3, "mbps": 10**6, "gbps": 10**9, "tbps": 10**12},
    unit_list="bps, kbps, Mbps, Gbps or Tbps",
    example="1Gbps, 100Mbps or 10kbps",
    bare_number_units=("Gbps", "Mbps", "kbps", "bps"),
    fold_case=True,
)
SIZE = _Kind(
    name="size",
    base_unit="bytes",
    factors={"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30},
    unit_list="B, kB, MB, GB, KiB, MiB or GiB",
    example="64KiB, 1MB or 1500 (bytes)",
    bare_number_units=(),
    fold_case=True,
)


def parse_duration(value: object) -> int:
    """Nanoseconds in ``value``: ``"300s"``, ``"50ms"``, ``"5us"``/``"5µs"``, ``"10ns"``, ``"2min"``, or 0."""
    return _parse(value, DURATION)


def parse_rate(value: object) -> int:
    """Bits per second in ``value``: ``"1Gbps"``, ``"2.5Gbps"``, ``"100Mbps"``, ``"10kbps"``, ``"1500bps"``, or 0."""
    return _parse(value, RATE)


def parse_size(value: object) -> int:
    """Bytes in ``value``: ``1500``, ``"1500"``, ``"64KiB"`` (binary), ``"1MB"`` (SI)."""
    return _parse(value, SIZE)


def format_duration(ns: int) -> str:
    """Exact compact form in the largest unit that keeps the number >= 1: ``"300s"``, ``"1.25ms"``, ``"0s"``."""
    return _format(ns, ((10**9, "s"), (10**6, "ms"), (10**3, "us"), (1, "ns")), zero_unit="s")


def count(number: int, noun: str, plural: str = "") -> str:
    """``1 switch``, ``2 switches`` (``plural``, else ``noun`` + s), ``0 VMs``."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def format_rate(bps: int) -> str:
    """Exact compact form in SI units: ``"1Gbps"``, ``"2.5Gbps"``, ``"10kbps"``, ``"0bps"``."""
    scale = ((10**12, "Tbps"), (10**9, "Gbps"), (10**6, "Mbps"), (10**3, "kbps"), (1, "bps"))
    return _format(bps, scale, zero_unit="bps")


def _parse(value: object, kind: _Kind) -> int:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = repr(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        text = ""
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid {kind.name} {_show(value)}: write a number and a unit, e.g. {kind.example}")
    number, unit = match["number"], match["unit"]
    amount = Fraction(number)
    if amount < 0:
        raise ValueError(f"invalid {kind.name} {_show(value)}: must not be negative")
    if unit is None:
        if amount != 0 and kind.bare_number_units:
            choices = [number + suffix for suffix in kind.bare_number_units]
            raise ValueError(f"{number} has no unit: write {', '.join(choices[:-1])} or {choices[-1]}")
        factor = 1
    elif kind is RATE and unit.endswith("Bps"):
        bits = _decimal(amount * 8, 1)
        raise ValueError(f"invalid rate {_show(value)}: {unit!r} means bytes per second; "
                         f"write bits per second, e.g. {bits}{unit[:-3]}bps")
    else:
        factor = kind.factors.get(unit.lower() if kind.fold_case else unit, 0)
        if not factor:
            raise ValueError(f"invalid {kind.name} {_show(value)}: unknown unit {unit!r} (use {kind.unit_list})")
    total = amount * factor
    if total.denominator != 1:
        raise ValueError(f"invalid {kind.name} {_show(value)}: not a whole number of {kind.base_unit}")
    return int(total)


def _format(amount: int, scale: tuple[tuple[int, str], ...], zero_unit: str) -> str:
    if amount < 0:
        return "-" + _format(-amount, scale, zero_unit)
    factor, unit = next(((f, u) for f, u in scale if amount >= f), (1, zero_unit))
    return _decimal(Fraction(amount), factor) + unit


def _decimal(amount: Fraction, factor: int) -> str:
    """``amount / factor`` written exactly in decimal (it must have a finite decimal expansion)."""
    scaled = amount / factor
    digits = 0
    while (scaled * 10**digits).denominator != 1:
        digits += 1
    whole, fraction = divmod(int(scaled * 10**digits), 10**digits)
    return f"{whole}.{fraction:0{digits}d}".rstrip("0").rstrip(".") if digits else str(whole)


def _show(value: object) -> str:
    """``value`` as a YAML user would recognise it, shortened for a one-line message."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
