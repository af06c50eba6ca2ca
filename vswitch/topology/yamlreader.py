"""Reading a loaded YAML document field by field, recording every problem with its place in the file.

A topology loader reads each mapping with a ``MapReader``::

    document = load_file("lab.yaml")
    top = MapReader.of(document)
    seed = top.take("seed", integer, default=0)
    for hypervisor in top.take_maps("hypervisors"):
        name = hypervisor.take("name", text)
        for vm in hypervisor.take_maps("vms"):
            mac = vm.take("mac", MACAddress)
            ageing_ns = vm.take("ageing", parse_duration, default=300 * 10**9)
            vm.finish()
        hypervisor.finish()
    top.finish()
    document.check()  # raises TopologyFileError listing every problem, in file order

A converter is any callable that takes the YAML value and returns the field's value or raises ``ValueError``
(``MACAddress``, ``parse_duration``, ``integer``, ``one_of("vepa", "bridge")``...). A value that fails to
convert is recorded and read as None, so that reading goes on and all the errors of a file are reported
together: build nothing from the values before ``document.check()`` has passed.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Callable, TypeVar

from .diagnostics import MAX_VALUE_CHARS, shorten
from .located import Document, LocatedList, LocatedMap, Location, item_path, key_path

T = TypeVar("T")


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: ``take(key, convert, default=REQUIRED)``: the key must be present.
REQUIRED: Any = _Required()
_INVALID: Any = object()  # what a failed conversion returns inside this module


class MapReader:
    """Takes the fields of one mapping, then reports in ``finish`` the keys nobody asked for."""

    def __init__(self, document: Document, mapping: LocatedMap, path: str, *, quiet: bool = False) -> None:
        self.document = document
        self.mapping = mapping
        self.path = path
        self._quiet = quiet  # a stand-in for a missing or invalid mapping, already reported: report nothing
        self._asked: list[str] = []
        self._refused: set[object] = set()  # keys that ``names`` reported

    @classmethod
    def of(cls, document: Document) -> MapReader:
        """A reader of the document's top-level mapping."""
        if isinstance(document.root, LocatedMap):
            return cls(document, document.root, "")
        document.report(document.location, "", f"the top level must be a mapping, not {describe(document.root)}")
        return cls(document, LocatedMap(document.location), "", quiet=True)

    def take(self, key: str, convert: Callable[[Any], T], default: Any = REQUIRED) -> T:
        """``convert`` of the value of ``key``; ``default`` if absent; None if missing or invalid.

        The None of a missing or invalid value is typed as a ``T``: its problem is reported, so the file does not
        load (``Document.check``); a reader only has to get past that None, and no spec it makes is returned."""
        self._asked.append(key)
        if key not in self.mapping:
            if default is REQUIRED:
                self._report_missing(key)
                return None  # type: ignore[return-value]  # reported: see the docstring
            return default
        value = self._convert(self.mapping[key], convert, self.mapping.value_locations[key], key_path(self.path, key))
        if value is _INVALID:
            return None  # type: ignore[return-value]  # reported: see the docstring
        return value

    def take_list(self, key: str, convert: Callable[[Any], T], required: bool = True) -> list[T]:
        """``convert`` of each item of the list at ``key`` (empty if absent and not required); bad items left out."""
        items = self._take_container(key, LocatedList, "a list", required)
        if items is None:
            return []
        path = key_path(self.path, key)
        converted = [self._convert(item, convert, items.item_locations[index], item_path(path, index))
                     for index, item in enumerate(items)]
        return [item for item in converted if item is not _INVALID]

    def take_map(self, key: str, required: bool = True) -> MapReader:
        """A reader of the mapping at ``key``; of an empty mapping if it is absent, not required or invalid."""
        mapping = self._take_container(key, LocatedMap, "a mapping", required)
        if mapping is None:  # absent and optional: still report its required keys; else already reported
            already_reported = required or key in self.mapping
            return MapReader(self.document, LocatedMap(self.mapping.location), key_path(self.path, key),
                             quiet=already_reported)
        return MapReader(self.document, mapping, key_path(self.path, key))

    def take_maps(self, key: str, required: bool = True) -> list[MapReader]:
        """A reader of each mapping in the list at ``key`` (empty if absent and not required)."""
        items = self._take_container(key, LocatedList, "a list", required)
        readers = []
        for index, item in enumerate(items or []):
            path = item_path(key_path(self.path, key), index)
            if isinstance(item, LocatedMap):
                readers.append(MapReader(self.document, item, path))
            else:
                self.document.report(items.item_locations[index], path, f"expected a mapping, got {describe(item)}")
        return readers

    def names(self, what: str) -> list[str]:
        """The keys of a mapping whose keys name things (``what``: "port"); a key that is not text is reported.

        YAML reads ``~:`` or an empty key as null and ``1.5:`` as a number: such a key names nothing.
        """
        names = []
        for key, location in self.mapping.key_locations.items():
            if isinstance(key, str):
                names.append(key)
                continue
            self._refused.add(key)
            hint = "an empty key, ~ or null is null: write the name" if key is None else f"quote it: '{describe(key)}'"
            self.document.report(location, key_path(self.path, key), f"expected a {what} name, got {describe(key)} "
                                                                      f"({hint})")
        return names

    def error(self, key: str | None, message: str) -> None:
        """Report a problem with the value of ``key`` (None: with the whole mapping), e.g. a cross-field check."""
        if key is None:
            self.document.report(self.mapping.location, self.path, message)
        else:
            location = self.mapping.value_locations.get(key, self.mapping.location)
            self.document.report(location, key_path(self.path, key), message)

    def finish(self) -> None:
        """Report each key of the mapping that no ``take*`` asked for, suggesting the closest known key.

        Only the first ``MAX_SHOWN_PROBLEMS`` unknown keys of a file get a suggestion (difflib takes about 40 us a
        key, 4 s for a file of 99 000 unknown keys); the others are reported without one.
        """
        known, asked = "", set(self._asked)
        for key, location in self.mapping.key_locations.items():
            if key in asked or key in self._refused:
                continue
            hint = ""
            if self.document.hints_left > 0:
                self.document.hints_left -= 1
                if not known and self._asked:
                    known = f" (expected one of: {', '.join(sorted(set(self._asked)))})"
                close = difflib.get_close_matches(str(key), self._asked, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else known
            self.document.report(location, key_path(self.path, key), f"unknown key {key!r}{hint}")

    def _take_container(self, key: str, kind: type, kind_name: str, required: bool) -> Any:
        self._asked.append(key)
        if key not in self.mapping:
            if required:
                self._report_missing(key)
            return None
        value = self.mapping[key]
        if isinstance(value, kind):
            return value
        self.error(key, f"expected {kind_name}, got {describe(value)}")
        return None

    def _convert(self, value: Any, convert: Callable[[Any], T], location: Location, path: str) -> T:
        try:
            return convert(value)
        except ValueError as error:
            message = str(error)
            if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:  # echoed unquoted: shortened here
                message = message.replace(value, shorten(value))
            self.document.report(location, path, message)
            return _INVALID

    def _report_missing(self, key: str) -> None:
        if not self._quiet:
            self.document.report(self.mapping.location, self.path, f"missing required key {key!r}")


def describe(value: object) -> str:
    """``value`` as a YAML user would recognise it, shortened for a one-line message."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return shorten(repr(value))


def text(value: object) -> str:
    """A string; a number or boolean must be quoted to be one."""
    if isinstance(value, str):
        return value
    hint = f" (quote it: '{describe(value)}')" if isinstance(value, (int, float)) else ""
    raise ValueError(f"expected a string, got {describe(value)}{hint}")


def integer(value: object) -> int:
    """An integer (decimal, 0x hex or 0o octal); ``010`` is refused as ambiguous between YAML 1.1 and 1.2."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"[-+]?0[0-9]+", value):
        digits = value.lstrip("+-").lstrip("0") or "0"  # not int(value): it may have more digits than int() takes
        decimal = "-" + digits if value.startswith("-") and digits != "0" else digits
        octal = f" or 0o{shorten(value.lstrip('0'))} for octal" if re.fullmatch(r"0[0-7]+", value) else ""
        raise ValueError(f"{value!r} has a leading zero, which YAML 1.1 reads as octal: "
                         f"write {shorten(decimal)} for decimal{octal}")
    raise ValueError(f"expected an integer, got {describe(value)}")


def integer_between(low: int, high: int) -> Callable[[object], int]:
    """A converter to an integer from ``low`` to ``high`` inclusive."""
    def convert(value: object) -> int:
        number = integer(value)
        if not low <= number <= high:
            raise ValueError(f"{number} is out of range: expected {low} to {high}")
        return number
    return convert


def boolean(value: object) -> bool:
    """``true`` or ``false``; YAML 1.1's ``yes``/``no``/``on``/``off`` are refused with a hint."""
    if isinstance(value, bool):
        return value
    hint = ""
    if isinstance(value, str) and value.lower() in ("yes", "no", "on", "off", "y", "n"):
        hint = f" ({value!r} is a string here, not a YAML 1.1 boolean)"
    raise ValueError(f"expected true or false, got {describe(value)}{hint}")


def one_of(*choices: str) -> Callable[[object], str]:
    """A converter accepting exactly one of ``choices``, suggesting the closest on a typo."""
    def convert(value: object) -> str:
        if isinstance(value, str) and value in choices:
            return value
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"expected one of {', '.join(choices)}, got {describe(value)}{hint}")
    return convert
