"""Strict, safe YAML loading that keeps the line and column of every value, for topology files.

``load_file`` / ``load_text`` return a ``Document`` whose mappings are ``LocatedMap`` and lists ``LocatedList``:
plain ``dict`` / ``list`` subclasses that also know where each key and value was written (1-based line and
column). Scalars are plain Python values. ``vswitch.yamlreader`` reads a document field by field.

Every problem is a ``Diagnostic`` printed as ``FILE:LINE:COL: PATH: MESSAGE``; they are raised together as one
``TopologyFileError``. Loading reports every duplicate key and unsupported tag of the file at once; a syntax
error, an encoding problem or an exceeded limit stops at the first.

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

Hostile input is bounded by ``Limits`` (file size, nesting depth, alias references, nodes after alias
expansion, string length), checked while composing, so an alias bomb fails before it is expanded. Nesting
deeper than a few hundred levels would exceed Python's recursion limit whatever ``Limits.max_depth`` says.
"""

from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import yaml
from yaml.composer import ComposerError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import TopologyError

MAX_FILE_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_ALIASES = 100
MAX_NODES = 200_000
MAX_STRING_CHARS = 10_000


@dataclass(frozen=True)
class Limits:
    """Bounds on the input a loader accepts; raise a field to accept a bigger file."""

    max_file_bytes: int = MAX_FILE_BYTES
    max_depth: int = MAX_DEPTH  # levels of nested values, counted through aliases
    max_aliases: int = MAX_ALIASES  # *alias references in the file
    max_nodes: int = MAX_NODES  # values in the document once every alias is expanded
    max_string_chars: int = MAX_STRING_CHARS  # characters in one scalar


@dataclass(frozen=True)
class Location:
    """A 1-based line and column (in characters) in a file."""

    line: int
    column: int


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a file; ``line`` and ``column`` are None for the file as a whole."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}:{self.column}"
        return ": ".join(part for part in (where, self.path, self.message) if part)


class TopologyFileError(TopologyError):
    """Every problem found in a file, one ``FILE:LINE:COL: PATH: MESSAGE`` line each, in file order."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.line or 0, d.column or 0))
        super().__init__("\n".join(map(str, self.diagnostics)))


class LocatedMap(dict):
    """A YAML mapping that knows where it, each of its keys and each of its values were written."""

    def __init__(self, location: Location) -> None:
        super().__init__()
        self.location = location
        self.key_locations: dict[Any, Location] = {}
        self.value_locations: dict[Any, Location] = {}


class LocatedList(list):
    """A YAML sequence that knows where it and each of its items were written."""

    def __init__(self, location: Location) -> None:
        super().__init__()
        self.location = location
        self.item_locations: list[Location] = []


@dataclass
class Document:
    """A loaded file: its root value, and the problems found so far while reading it."""

    filename: str
    root: Any
    location: Location
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def report(self, location: Location | None, path: str, message: str) -> None:
        """Record a problem at ``location`` (None: the whole file) and ``path``; ``check`` raises them."""
        line, column = (location.line, location.column) if location else (None, None)
        self.diagnostics.append(Diagnostic(self.filename, line, column, path, message))

    def check(self) -> None:
        """Raise ``TopologyFileError`` with every reported problem, if there is any."""
        if self.diagnostics:
            raise TopologyFileError(self.diagnostics)


def key_path(path: str, key: object) -> str:
    """The path of ``key`` in the mapping at ``path``: ``vms[0].mac``, or ``vlans[10]`` for other keys."""
    if isinstance(key, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key):
        return f"{path}.{key}" if path else key
    return f"{path}[{key!r}]"


def item_path(path: str, index: int) -> str:
    """The path of item ``index`` of the list at ``path``."""
    return f"{path}[{index}]"


def load_file(path: str | os.PathLike[str], limits: Limits | None = None) -> Document:
    """Load the YAML file at ``path``; raise ``TopologyFileError`` if it cannot be read or is not valid."""
    limits = limits or Limits()
    filename = os.fspath(path)
    try:
        with open(filename, "rb") as stream:
            data = stream.read(limits.max_file_bytes + 1)
    except OSError as error:
        raise TopologyFileError([Diagnostic(filename, None, None, "", f"cannot read: {error.strerror}")]) from None
    return load_text(data, filename, limits)


def load_text(text: str | bytes, filename: str = "<string>", limits: Limits | None = None) -> Document:
    """Load YAML from ``text`` (``bytes`` must be UTF-8); ``filename`` is only used in messages."""
    limits = limits or Limits()
    document = Document(filename, None, Location(1, 1))
    source = _decode(text, document, limits)
    root = None if source is None else _compose(source, document, limits)
    if root is not None:
        document.location = _location(root.start_mark)
        document.root = _Builder(document).build(root, "")
    elif not document.diagnostics:
        document.report(None, "", "no YAML document: the file is empty or holds only comments")
    document.check()
    return document


def _decode(text: str | bytes, document: Document, limits: Limits) -> str | None:
    """The text to parse, or None after reporting why the input is not YAML text."""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_file_bytes:
        document.report(None, "", f"the file is larger than {limits.max_file_bytes} bytes "
                                  "(raise Limits.max_file_bytes to accept it)")
        return None
    if isinstance(text, bytes):
        if text.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            document.report(None, "", "the file is UTF-16 text: save it as UTF-8")
            return None
        nul = text.find(b"\0")
        if nul >= 0:
            document.report(_byte_location(text, nul), "", "NUL byte: this is a binary file, not YAML text")
            return None
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            document.report(_byte_location(text, error.start), "",
                            f"invalid UTF-8 byte 0x{text[error.start]:02x}: save the file as UTF-8")
            return None
    control = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if control:
        document.report(_char_location(text, control.start()), "",
                        f"control character U+{ord(control.group()):04X} is not allowed in YAML text")
        return None
    return text


def _compose(text: str, document: Document, limits: Limits) -> Node | None:
    loader = _StrictLoader(text, limits)
    try:
        return loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        message = error.problem or error.context
        if error.problem and error.context and error.context_mark:
            context = _location(error.context_mark)
            message += f" ({error.context} at line {context.line}, column {context.column})"
        document.report(_location(mark), "", message)
        return None
    finally:
        loader.dispose()


def _location(mark: yaml.Mark) -> Location:
    return Location(mark.line + 1, mark.column + 1)


def _char_location(text: str, offset: int) -> Location:
    return Location(text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset))


def _byte_location(data: bytes, offset: int) -> Location:
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", "replace")) + 1
    return Location(data.count(b"\n", 0, offset) + 1, column)


_YAML = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL, SEQ, MAP, MERGE = (_YAML + name for name in
                                                ("str", "int", "float", "bool", "null", "seq", "map", "merge"))
_SCALARS = {  # tag -> (what a valid scalar of that type looks like, its Python value)
    INT: (re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z|0x[0-9a-fA-F]+\Z|0o[0-7]+\Z"), lambda text: int(text, 0)),
    FLOAT: (re.compile(r"[-+]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z"), float),
    BOOL: (re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z"), lambda text: text.lower() == "true"),
    NULL: (re.compile(r"(?:~|null|Null|NULL|)\Z"), lambda text: None),
}
_SUPPORTED_TAGS = "!!str, !!int, !!float, !!bool, !!null, !!seq and !!map"


class _StrictLoader(yaml.SafeLoader):
    """Composes nodes with the schema above, enforcing ``Limits`` as it goes; never constructs objects."""

    yaml_implicit_resolvers: dict = {}

    def __init__(self, text: str, limits: Limits) -> None:
        super().__init__(text)
        self.limits = limits
        self.depth = 0
        self.alias_count = 0
        self.node_count = 0  # nodes after alias expansion
        self.shapes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded node count, height)

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        mark = self.peek_event().start_mark
        if self.check_event(yaml.AliasEvent):
            self.alias_count += 1
            self._require(self.alias_count <= self.limits.max_aliases, mark,
                          f"more than {self.limits.max_aliases} alias references (raise Limits.max_aliases)")
            node = super().compose_node(parent, index)
            self._require(id(node) in self.shapes, mark, "recursive alias: a value cannot contain itself")
            size, height = self.shapes[id(node)]
            self._count(size, self.depth + height, mark)
            return node
        self.depth += 1
        self._count(1, self.depth, mark)
        node = super().compose_node(parent, index)
        self.depth -= 1
        if isinstance(node, ScalarNode):
            self._require(len(node.value) <= self.limits.max_string_chars, mark,
                          f"string longer than {self.limits.max_string_chars} characters "
                          "(raise Limits.max_string_chars)")
            self.shapes[id(node)] = (1, 1)
        else:
            children = [self.shapes[id(child)] for child in _children(node)]
            self.shapes[id(node)] = (1 + sum(size for size, _ in children),
                                     1 + max((height for _, height in children), default=0))
        return node

    def _count(self, nodes: int, depth: int, mark: yaml.Mark) -> None:
        self.node_count += nodes
        self._require(depth <= self.limits.max_depth, mark,
                      f"nested deeper than {self.limits.max_depth} levels (raise Limits.max_depth)")
        self._require(self.node_count <= self.limits.max_nodes, mark,
                      f"more than {self.limits.max_nodes} values once aliases are expanded "
                      "(raise Limits.max_nodes)")

    @staticmethod
    def _require(condition: bool, mark: yaml.Mark, message: str) -> None:
        if not condition:
            raise ComposerError(None, None, message, mark)


for _tag, _first in ((BOOL, "tTfF"), (INT, "-+0123456789"), (FLOAT, "-+.0123456789"), (NULL, ["~", "n", "N", ""])):
    _StrictLoader.add_implicit_resolver(_tag, _SCALARS[_tag][0], list(_first))
_StrictLoader.add_implicit_resolver(MERGE, re.compile(r"<<\Z"), ["<"])


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [child for pair in node.value for child in pair]
    return node.value


class _Builder:
    """Turns composed nodes into located values, reporting duplicate keys and unsupported tags."""

    def __init__(self, document: Document) -> None:
        self.document = document

    def build(self, node: Node, path: str) -> Any:
        if isinstance(node, MappingNode) and node.tag == MAP:
            return self._mapping(node, path)
        if isinstance(node, SequenceNode) and node.tag == SEQ:
            items = LocatedList(_location(node.start_mark))
            for index, item in enumerate(node.value):
                items.item_locations.append(_location(item.start_mark))
                items.append(self.build(item, item_path(path, index)))
            return items
        if isinstance(node, ScalarNode) and node.tag == STR:
            return node.value
        if isinstance(node, ScalarNode) and node.tag in _SCALARS:
            pattern, convert = _SCALARS[node.tag]
            if pattern.match(node.value):
                return convert(node.value)
            self._report(node, path, f"{node.value!r} is not a valid {_short(node.tag)}")
            return None
        self._report(node, path, f"tag {_short(node.tag)} is not supported: use only {_SUPPORTED_TAGS}")
        return None

    def _mapping(self, node: MappingNode, path: str) -> LocatedMap:
        mapping = LocatedMap(_location(node.start_mark))
        merged = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE:
                merged.extend(value_node.value if isinstance(value_node, SequenceNode) else [value_node])
                continue
            if not isinstance(key_node, ScalarNode):
                self._report(key_node, path, "a key must be a single value, not a list or a mapping")
                continue
            key = self.build(key_node, path)
            here = _location(key_node.start_mark)
            first = mapping.key_locations.get(key)
            if first:
                self._report(key_node, key_path(path, key),
                             f"duplicate key {key!r} on lines {first.line} and {here.line}: keep one")
                continue
            mapping.key_locations[key] = here
            mapping.value_locations[key] = _location(value_node.start_mark)
            mapping[key] = self.build(value_node, key_path(path, key))
        for source in merged:
            values = self.build(source, path)
            if not isinstance(values, LocatedMap):
                self._report(source, path, "a merge key (<<) takes a mapping or a list of mappings")
                continue
            for key, value in values.items():
                if key not in mapping:
                    mapping[key] = value
                    mapping.key_locations[key] = values.key_locations[key]
                    mapping.value_locations[key] = values.value_locations[key]
        return mapping

    def _report(self, node: Node, path: str, message: str) -> None:
        self.document.report(_location(node.start_mark), path, message)


def _short(tag: str) -> str:
    return tag.replace(_YAML, "!!")
