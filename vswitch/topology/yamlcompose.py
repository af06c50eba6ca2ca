"""Builds located values (``LocatedMap``, ``LocatedList``, scalars) from YAML parser events, within ``Limits``.

Values are built straight from the parser's events (libyaml's when PyYAML has it, else PyYAML's own, 20 times
slower), without recursion, so that nesting cannot exhaust the stack. An alias is the very object its anchor
built, not a copy: expanding it costs nothing, yet it counts in full towards ``Limits.max_nodes``. The text
limits (depth, aliases, values after alias expansion, string length) are checked as events arrive, so an alias
bomb fails before it is expanded; where libyaml's own nesting limit stops it first, ``yamldepth`` finds where the
depth limit was exceeded. Every duplicate key and unsupported tag is reported; a syntax error or an
exceeded limit stops at the first.

Scalars are resolved with a small schema, close to YAML 1.2 core, chosen so that nothing changes meaning
behind the user's back (PyYAML's default is YAML 1.1):

- ``true``/``false`` (also ``True``, ``TRUE``...) are booleans; ``yes``, ``no``, ``on``, ``off`` stay strings
  (YAML 1.1 turns a key ``on:`` into ``True``);
- integers are decimal without a leading zero, ``0x1f`` or ``0o17``; ``010`` stays the string ``"010"`` (YAML
  1.1 reads 8, YAML 1.2 reads 10), so that a field converter can ask which was meant;
- sexagesimal numbers stay strings: an unquoted ``52:54:00:12:34:56`` is the text of a MAC address, not the
  base-60 integer PyYAML would make of it;
- floats are decimal (``1.5``, ``1e3``); ``.inf`` and ``.nan`` stay strings, as do timestamps (``2024-01-31``);
- ``~``, ``null`` and an empty value are null; ``<<`` merges mappings (keys written in the mapping win).

Explicit tags are limited to ``!!str !!int !!float !!bool !!null !!seq !!map``; any other (``!!python/...``,
``!!binary``, ``!local``) is an error. No Python object is ever constructed from a tag.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import yaml
from yaml.events import (AliasEvent, DocumentEndEvent, MappingEndEvent, MappingStartEvent, ScalarEvent,
                         SequenceEndEvent, SequenceStartEvent, StreamEndEvent)

from .diagnostics import Diagnostic, shorten
from .limits import Limits
from .located import Document, LocatedList, LocatedMap, Location, key_path
from .yamldepth import first_too_deep, is_libyaml_nesting_limit

try:  # libyaml's event parser: the pure-Python one takes about 4 s for a 1 MiB file
    from yaml.cyaml import CParser as _EventParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    # the same name as the C parser on purpose: one or the other is defined
    class _EventParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):  # type: ignore[no-redef]
        def __init__(self, text: str) -> None:
            yaml.reader.Reader.__init__(self, text)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)


def compose(document: Document, text: str) -> None:
    """Build ``document.root`` from YAML ``text``, reporting problems on ``document`` (``check`` raises them)."""
    _Composer(document, document.limits).compose(text)


def _location(mark: yaml.Mark) -> Location:
    return Location(mark.line + 1, mark.column + 1)


_YAML = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL, SEQ, MAP, MERGE = (_YAML + name for name in
                                                ("str", "int", "float", "bool", "null", "seq", "map", "merge"))
_SCALARS: dict[str, tuple[re.Pattern[str], Callable[[str], Any]]] = {  # tag -> (what a valid scalar of that type looks like, its Python value)
    INT: (re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z|0x[0-9a-fA-F]+\Z|0o[0-7]+\Z"), lambda text: int(text, 0)),
    FLOAT: (re.compile(r"[-+]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z"), float),
    BOOL: (re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z"), lambda text: text.lower() == "true"),
    NULL: (re.compile(r"(?:~|null|Null|NULL|)\Z"), lambda text: None),
}
_IMPLICIT: dict[str, list[str]] = {}  # first character of a plain scalar -> the tags it may resolve to, in order
for _tag, _first in ((BOOL, "tTfF"), (INT, "-+0123456789"), (FLOAT, "-+.0123456789"), (NULL, "~nN")):
    for _char in _first:
        _IMPLICIT.setdefault(_char, []).append(_tag)
_IMPLICIT[""] = [NULL]
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE
_SUPPORTED_TAGS = "!!str, !!int, !!float, !!bool, !!null, !!seq and !!map"
#: Digits an integer may have: no field takes more (64 bits are 20), and Python cannot print one of over 4300
MAX_INT_DIGITS = 40


def _resolve_plain(value: str) -> str:
    if value == "<<":
        return MERGE
    for tag in _IMPLICIT.get(value[:1], ()):
        if _SCALARS[tag][0].match(value):
            return tag
    return STR


class _LibyamlTooDeep(Exception):
    """libyaml stopped at its own nesting limit, at ``mark``, after delivering the event ``delivered``."""

    def __init__(self, delivered: Any, mark: yaml.Mark) -> None:
        super().__init__("exceeded maximum nesting depth")
        self.delivered, self.mark = delivered, mark


class _Fatal(Exception):
    """A problem that stops loading: a syntax error or an exceeded limit."""

    def __init__(self, location: Location, message: str, path: str = "") -> None:
        super().__init__(message)
        self.location, self.message, self.path = location, message, path


_EXPECT_KEY, _MERGE_KEY, _SKIP = object(), object(), object()  # states of an open mapping between its pairs


class _Open:
    """A mapping or sequence being built: its value and how much it holds once aliases are expanded."""

    __slots__ = ("value", "is_map", "path", "anchor", "tag_error", "size", "height", "key", "merges")

    def __init__(self, value: Any, is_map: bool, path: str, anchor: str | None, tag_error: bool) -> None:
        self.value, self.is_map, self.path, self.anchor, self.tag_error = value, is_map, path, anchor, tag_error
        self.size = 1  # values inside, itself included, aliases expanded
        self.height = 1  # levels, itself included
        self.key: Any = _EXPECT_KEY  # mapping: the key whose value comes next, or a state
        self.merges: list[tuple[Any, Location]] = []


class _Composer:
    """Builds located values from parser events, enforcing the text limits and reporting bad keys and tags."""

    def __init__(self, document: Document, limits: Limits) -> None:
        self.document = document
        self.limits = limits
        self.stack: list[_Open] = []
        self.anchors: dict[str, tuple[Any, int, int, bool, Location] | None] = {}  # None: still being built
        self.alias_count = 0
        self.node_count = 0  # values after alias expansion
        self.root: Any = None

    def compose(self, text: str) -> None:
        document = self.document
        parser = _EventParser(text)
        try:
            self._events(parser, text)
        except _LibyamlTooDeep as stop:
            document.diagnostics = []
            document.report(self._too_deep(text, stop.delivered, stop.mark), "", self._depth_exceeded())
        except yaml.MarkedYAMLError as error:
            document.diagnostics = [_syntax_error(document.filename, error, text)]
        except yaml.YAMLError as error:  # not located (libyaml's reader)
            document.diagnostics = [Diagnostic(document.filename, None, None, "", str(error).splitlines()[0])]
        except _Fatal as fatal:
            document.diagnostics = []
            document.report(fatal.location, fatal.path, fatal.message)
        finally:
            parser.dispose()

    def _events(self, parser: Any, text: str) -> None:
        get = parser.get_event
        event = get()  # StreamStartEvent
        try:
            event = get()
            if type(event) is StreamEndEvent:
                self.document.report(None, "", "no YAML document: the file is empty or holds only comments")
                return
            first = None  # where the document's root starts
            while True:
                event = get()
                kind = type(event)
                if first is None:
                    first = _location(event.start_mark)
                if kind is ScalarEvent:
                    self._scalar(event)
                elif kind is MappingStartEvent or kind is SequenceStartEvent:
                    self._start(event, kind is MappingStartEvent)
                elif kind is MappingEndEvent or kind is SequenceEndEvent:
                    self._end()
                elif kind is AliasEvent:
                    self._alias(event)
                elif kind is DocumentEndEvent:
                    break
        except yaml.MarkedYAMLError as error:  # event: the last one libyaml delivered
            if is_libyaml_nesting_limit(error):
                raise _LibyamlTooDeep(event, error.problem_mark) from None
            raise
        self.document.root, self.document.location = self.root, first
        event = get()
        if type(event) is not StreamEndEvent:
            raise _Fatal(_location(event.start_mark), "but found another document (expected a single document in "
                                                      f"the stream at line {first.line}, column {first.column})")

    # -- values ---------------------------------------------------------------------------------------------
    def _path(self) -> str:
        """The path of the value starting now."""
        if not self.stack:
            return ""
        top = self.stack[-1]
        if not top.is_map:
            return f"{top.path}[{len(top.value)}]"
        key = top.key
        if key is _EXPECT_KEY or key is _MERGE_KEY or key is _SKIP:
            return top.path
        return key_path(top.path, key)

    def _count(self, size: int, height: int, location: Location) -> None:
        limits = self.limits
        self.node_count += size
        if len(self.stack) + height > limits.max_depth:
            raise _Fatal(location, self._depth_exceeded())
        if self.node_count > limits.max_nodes:
            raise _Fatal(location, limits.exceeded("nodes", f"more than {limits.max_nodes} values once aliases "
                                                            "are expanded"), self._path())

    def _depth_exceeded(self) -> str:
        return self.limits.exceeded("depth", f"nested deeper than {self.limits.max_depth} levels")

    def _too_deep(self, text: str, delivered: Any, stopped: yaml.Mark) -> Location:
        """Where the depth limit is first exceeded after ``delivered``, the last event libyaml gave before it stopped.

        ``yamldepth`` finds it in the text libyaml read ahead; if that text cannot say, ``stopped``, 1000 levels deep.
        """
        start = delivered.end_mark
        heights = {name: anchored[2] for name, anchored in self.anchors.items() if anchored is not None}
        found = first_too_deep(text[start.index:stopped.index + 1], [open_.is_map for open_ in self.stack],
                               self.limits.max_depth, heights)
        if found is None:
            return _location(stopped)
        line, column = found
        return Location(start.line + line + 1, (start.column if line == 0 else 0) + column + 1)

    def _scalar(self, event: ScalarEvent) -> None:
        location = _location(event.start_mark)
        self._count(1, 1, location)
        text, tag = event.value, event.tag
        if len(text) > self.limits.max_string_chars:
            raise _Fatal(location, self.limits.exceeded("string_chars", f"string longer than "
                                                                        f"{self.limits.max_string_chars} characters"),
                         self._path())
        if event.style == '"' and _NON_PRINTABLE.search(text):  # written as an escape such as \0 or \e
            char = _NON_PRINTABLE.search(text).group()
            self.document.report(location, self._path(), f"control character U+{ord(char):04X} (written as an "
                                                         "escape) is not allowed in a string")
        if tag is None or tag == "!":
            tag = _resolve_plain(text) if event.implicit[0] else STR
        if tag == STR:
            value: Any = text
        elif tag == MERGE:  # a plain <<: merges as a key, text elsewhere
            top = self.stack[-1] if self.stack else None
            value = _MERGE_KEY if top is not None and top.is_map and top.key is _EXPECT_KEY else text
        elif tag in _SCALARS:
            pattern, convert = _SCALARS[tag]
            value = None
            if not pattern.match(text):
                self.document.report(location, self._path(), f"{shorten(repr(text))} is not a valid {_short(tag)}")
            elif tag == INT and len(text) > MAX_INT_DIGITS and _digits(text)[0] > MAX_INT_DIGITS:
                digits, base = _digits(text)
                self.document.report(location, self._path(), f"an integer of {digits} {base}digits is too large: no "
                                                             f"field takes more than {MAX_INT_DIGITS} (quote it if "
                                                             "it is text)")
            else:
                value = convert(text)
        else:
            self.document.report(location, self._path(), _unsupported(tag))
            value = None
        if event.anchor is not None:
            self._anchor(event.anchor, location)
            self.anchors[event.anchor] = (value, 1, 1, True, location)
        if value is None and tag != NULL and self.stack and self.stack[-1].is_map and (
                self.stack[-1].key is _EXPECT_KEY):
            value = _SKIP  # a key that could not be read, already reported: leave its pair out
        self._add(value, location, 1, 1, True)

    def _start(self, event: Any, is_map: bool) -> None:
        location = _location(event.start_mark)
        self._count(1, 1, location)
        path = self._path()
        tag_error = event.tag not in (None, "!", MAP if is_map else SEQ)
        if tag_error:
            self.document.report(location, path, _unsupported(event.tag))
        if event.anchor is not None:
            self._anchor(event.anchor, location)
            self.anchors[event.anchor] = None
        self.stack.append(_Open(LocatedMap(location) if is_map else LocatedList(location), is_map, path,
                                event.anchor, tag_error))

    def _end(self) -> None:
        done = self.stack.pop()
        value = done.value
        if done.is_map and done.merges:
            self._merge(value, done.merges, done.path)
        if done.tag_error:
            value = None
        if done.anchor is not None:
            self.anchors[done.anchor] = (value, done.size, done.height, False, done.value.location)
        self._add(value, done.value.location, done.size, done.height, False)

    def _alias(self, event: AliasEvent) -> None:
        location = _location(event.start_mark)
        self.alias_count += 1
        if self.alias_count > self.limits.max_aliases:
            raise _Fatal(location, self.limits.exceeded("aliases", f"more than {self.limits.max_aliases} alias "
                                                                   "references"), self._path())
        if event.anchor not in self.anchors:
            raise _Fatal(location, f"found undefined alias {event.anchor!r}", self._path())
        anchored = self.anchors[event.anchor]
        if anchored is None:
            raise _Fatal(location, "recursive alias: a value cannot contain itself", self._path())
        value, size, height, is_scalar, _ = anchored
        self._count(size, height, location)
        if value is _MERGE_KEY:  # an anchored merge key (&m <<) is only text when reused
            value = "<<"
        self._add(value, location, size, height, is_scalar)

    def _anchor(self, anchor: str, location: Location) -> None:
        if anchor in self.anchors:
            first = self.anchors[anchor]
            where = f" (first defined at line {first[4].line}, column {first[4].column})" if first and first[4] else ""
            raise _Fatal(location, f"duplicate anchor &{shorten(anchor)}{where}: give each anchor its own name",
                         self._path())

    def _add(self, value: Any, location: Location, size: int, height: int, is_scalar: bool) -> None:
        """Put a finished value into the open mapping or sequence (or make it the root)."""
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        top.size += size
        if height >= top.height:
            top.height = height + 1
        container = top.value
        if not top.is_map:
            container.item_locations.append(location)
            container.append(value)
            return
        key = top.key
        if key is _EXPECT_KEY:
            if not is_scalar:
                self.document.report(location, top.path, "a key must be a single value, not a list or a mapping")
                top.key = _SKIP
            elif value is _SKIP or value is _MERGE_KEY:
                top.key = value
            elif value in container.key_locations:
                first = container.key_locations[value]
                self.document.report(location, key_path(top.path, value),
                                     f"duplicate key {value!r} on lines {first.line} and {location.line}: keep one")
                top.key = _SKIP
            else:
                container.key_locations[value] = location
                top.key = value
            return
        if key is _MERGE_KEY:
            top.merges.append((value, location))
        elif key is not _SKIP:
            container.value_locations[key] = location
            container[key] = value
        top.key = _EXPECT_KEY

    def _merge(self, mapping: LocatedMap, merges: list[tuple[Any, Location]], path: str) -> None:
        """Copy the keys of each ``<<`` source that the mapping does not write itself; earlier sources win."""
        sources: list[tuple[Any, Location]] = []
        for value, location in merges:
            if isinstance(value, LocatedList):
                sources.extend(zip(value, value.item_locations))
            else:
                sources.append((value, location))
        for source, location in sources:
            if not isinstance(source, LocatedMap):
                self.document.report(location, path, "a merge key (<<) takes a mapping or a list of mappings")
                continue
            for key, value in source.items():
                if key not in mapping:
                    mapping[key] = value
                    mapping.key_locations[key] = source.key_locations[key]
                    mapping.value_locations[key] = source.value_locations[key]


def _syntax_error(filename: str, error: yaml.MarkedYAMLError, text: str) -> Diagnostic:
    mark = error.problem_mark or error.context_mark
    message = error.problem or error.context or "invalid YAML"
    if message == "found character that cannot start any token":  # libyaml does not say which
        lines = text.splitlines(keepends=True)
        line = lines[mark.line] if mark.line < len(lines) else ""
        if mark.column < len(line):
            message = f"found character {line[mark.column]!r} that cannot start any token"
    if error.problem and error.context and error.context_mark and (
            (error.context_mark.line, error.context_mark.column) != (mark.line, mark.column)):
        context = _location(error.context_mark)
        message += f" ({error.context} at line {context.line}, column {context.column})"
    location = _location(mark)
    return Diagnostic(filename, location.line, location.column, "", message)


def _unsupported(tag: str) -> str:
    return f"tag {shorten(_short(tag))} is not supported: use only {_SUPPORTED_TAGS}"


def _digits(integer: str) -> tuple[int, str]:
    """The digits of an integer as written (sign and 0x or 0o left out), and which: "", "hex " or "octal "."""
    body = integer.lstrip("+-")
    if body[:2] in ("0x", "0o"):
        return len(body) - 2, "hex " if body[1] == "x" else "octal "
    return len(body), ""


def _short(tag: str) -> str:
    return tag.replace(_YAML, "!!")
