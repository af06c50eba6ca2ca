"""Strict, safe YAML loading that keeps the line and column of every value, for topology files.

``load_file`` / ``load_text`` return a ``Document`` (``located``) whose mappings are ``LocatedMap`` and lists
``LocatedList``; ``vswitch.yamlreader`` reads it field by field. Before parsing, the input is checked to be
UTF-8 YAML text within ``Limits.max_file_bytes``; ``yamlcompose`` then builds the values, with a schema close
to YAML 1.2 core and only plain tags. Every problem is a ``Diagnostic``; they are raised together as one
``TopologyFileError`` (``diagnostics``).

Hostile input is bounded by ``Limits`` (``limits``), each limit with a name that the command line raises with
``--limit NAME=VALUE``; ``docs/limits.md`` lists them with their reasons.
"""

from __future__ import annotations

import codecs
import os
import stat

import yaml

from ..pcap.writer import file_kind
from .diagnostics import Diagnostic, TopologyFileError
from .limits import Limits
from .located import Document, Location
from .yamlcompose import compose


def load_file(path: str | os.PathLike[str], limits: Limits | None = None) -> Document:
    """Load the YAML file at ``path``; raise ``TopologyFileError`` if it cannot be read or is not valid.

    At most ``limits.max_file_bytes + 1`` bytes are read: a bigger file is refused without reading the rest.
    """
    limits = limits or Limits()
    filename = os.fspath(path)
    try:  # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below, like a folder)
        fd = os.open(filename, os.O_RDONLY | os.O_NONBLOCK)
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            raise TopologyFileError([Diagnostic(filename, None, None, "", f"is {file_kind(mode)}, not a topology file")])
        with open(fd, "rb") as stream:
            data = stream.read(limits.max_file_bytes + 1)
    except OSError as error:
        raise TopologyFileError([Diagnostic(filename, None, None, "", f"cannot read: {error.strerror}")]) from None
    return load_text(data, filename, limits)


def check_file(path: str | os.PathLike[str]) -> None:
    """Raise ``TopologyFileError`` unless ``path`` names a regular file (links followed), before anything opens it:
    a FIFO would make ``load_file`` wait for a writer forever, a folder cannot be read."""
    filename = os.fspath(path)
    try:
        mode = os.stat(filename).st_mode
    except OSError as error:
        problem = "no such file" if isinstance(error, FileNotFoundError) else f"cannot read: {error.strerror}"
    else:
        if stat.S_ISREG(mode):
            return
        problem = f"is {file_kind(mode)}, not a topology file"
    raise TopologyFileError([Diagnostic(filename, None, None, "", problem)])


def load_text(text: str | bytes, filename: str = "<string>", limits: Limits | None = None) -> Document:
    """Load YAML from ``text`` (``bytes`` must be UTF-8); ``filename`` is only used in messages."""
    limits = limits or Limits()
    document = Document(filename, None, Location(1, 1), limits=limits)
    source = _decode(text, document, limits)
    if source is not None:
        compose(document, source)
    document.check()
    return document


def _decode(text: str | bytes, document: Document, limits: Limits) -> str | None:
    """The text to parse, or None after reporting why the input is not YAML text."""
    # a str has at most 4 bytes per character: measure its UTF-8 size only if it could fit
    too_big = len(text) > limits.max_file_bytes or (
        isinstance(text, str) and len(text.encode("utf-8", "surrogatepass")) > limits.max_file_bytes)
    if too_big:
        document.report(None, "", limits.exceeded("file_bytes", f"the file is larger than {limits.max_file_bytes} "
                                                                "bytes"))
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
            decoded = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            document.report(_byte_location(text, error.start), "",
                            f"invalid UTF-8 byte 0x{text[error.start]:02x}: save the file as UTF-8")
            return None
        text = decoded
    control = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if control:
        document.report(_char_location(text, control.start()), "",
                        f"control character U+{ord(control.group()):04X} is not allowed in YAML text")
        return None
    return text


def _char_location(text: str, offset: int) -> Location:
    return Location(text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset))


def _byte_location(data: bytes, offset: int) -> Location:
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", "replace")) + 1
    return Location(data.count(b"\n", 0, offset) + 1, column)
