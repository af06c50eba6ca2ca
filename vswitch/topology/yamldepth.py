"""Where nesting first exceeds the depth limit in the text that libyaml read ahead of its events.

The libyaml inside PyYAML 6.0.4's wheels stops at 1000 levels of nesting with a ``ScannerError`` ("exceeded
maximum nesting depth", no limit named, no way to raise it from Python). It counts levels while it reads ahead
of the events it has delivered: on one line, it scans ``[[[[...`` up to the next 1024 characters before it
delivers the first ``[``, so a line nested 1000 deep stops it before ``yamlcompose`` has seen level 33.

``first_too_deep`` then rescans only that read-ahead (the text from the end of the last delivered event to where
libyaml stopped: part of one line) with PyYAML's pure-Python scanner, which has no nesting limit, and finds
where the ``depth`` limit is first exceeded. It never counts a level that is not there: where the text leaves
a doubt (a flow mapping opened before the read-ahead may be a single ``key: value`` pair), it counts fewer, so
the place it names is always too deep. It scans a short start of the read-ahead first, then longer ones: the
scanner's cost grows with the square of the levels open (each token looks at every possible simple key).
"""

from __future__ import annotations

from typing import Sequence

import yaml
from yaml.tokens import (AliasToken, AnchorToken, FlowEntryToken, FlowMappingEndToken, FlowMappingStartToken,
                         FlowSequenceEndToken, FlowSequenceStartToken, KeyToken, ScalarToken, StreamEndToken,
                         TagToken)

_LIST, _MAP, _PAIR, _MAP_OR_PAIR = "[", "{", ":", "?"  # kinds of open collection


def is_libyaml_nesting_limit(error: yaml.YAMLError) -> bool:
    """Whether ``error`` is libyaml's own nesting limit (libyaml 0.2.6's scanner, in PyYAML 6.0.4's wheels)."""
    return (isinstance(error, yaml.MarkedYAMLError) and "nesting depth" in (error.problem or "")
            and error.problem_mark is not None)


class _FlowScanner(yaml.reader.Reader, yaml.scanner.Scanner):
    """PyYAML's pure-Python scanner, started inside flow collections."""

    def __init__(self, text: str) -> None:
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        self.flow_level = 1 << 30  # the read-ahead never leaves the flow collections it started in


def first_too_deep(read_ahead: str, open_maps: Sequence[bool], max_depth: int,
                   alias_heights: dict[str, int]) -> tuple[int, int] | None:
    """0-based (line, column) in ``read_ahead`` where a value starts deeper than ``max_depth`` levels, or None.

    ``open_maps`` says, for each collection open where ``read_ahead`` starts (outermost first), whether it is a
    mapping; ``alias_heights`` gives the levels that each anchor defined before it holds. None also when the
    scanner stops on something libyaml read.
    """
    size = 256
    while True:
        found = _scan(read_ahead[:size], size >= len(read_ahead), open_maps, max_depth, alias_heights)
        if found is not None or size >= len(read_ahead):
            return found
        size *= 4


def _scan(text: str, whole: bool, open_maps: Sequence[bool], max_depth: int,
          alias_heights: dict[str, int]) -> tuple[int, int] | None:
    """``first_too_deep`` on ``text``, the start of the read-ahead (``whole``: all of it)."""
    # a leading space keeps the scanner from reading '---' or '%' at column 0, where the text is not; libyaml
    # accepts tabs between flow tokens where PyYAML's scanner does not: same columns, as spaces
    text = " " + text.replace("\t", " ")
    scanner = _FlowScanner(text)
    stack = [_MAP_OR_PAIR if is_map and index and not open_maps[index - 1] else (_MAP if is_map else _LIST)
             for index, is_map in enumerate(open_maps)]
    properties = None  # where the anchor or tag of the next value starts
    try:
        while True:
            token = scanner.get_token()
            kind = type(token)
            if kind is StreamEndToken:
                return None
            if kind is AnchorToken or kind is TagToken:
                properties = properties or token.start_mark
                continue
            if kind is FlowSequenceStartToken or kind is FlowMappingStartToken or kind is ScalarToken or (
                    kind is AliasToken):
                height = alias_heights.get(token.value, 1) if kind is AliasToken else 1
                if len(stack) + height > max_depth:
                    if not whole and token.end_mark.index >= len(text):  # maybe cut short: *ab read as *a
                        return None
                    return _place(properties or token.start_mark)
                if kind is FlowSequenceStartToken or kind is FlowMappingStartToken:
                    stack.append(_LIST if kind is FlowSequenceStartToken else _MAP)
                properties = None
            elif kind is KeyToken and stack and stack[-1] == _LIST:  # [a: b] holds a single-pair mapping
                if len(stack) + 1 > max_depth:
                    return _place(token.start_mark)
                stack.append(_PAIR)
            elif kind is FlowEntryToken and stack and stack[-1] in (_PAIR, _MAP_OR_PAIR):
                stack.pop()  # a pair ends at the comma; a mapping that may be one is counted as ended
            elif kind is FlowSequenceEndToken or kind is FlowMappingEndToken:
                if kind is FlowSequenceEndToken and stack and stack[-1] in (_PAIR, _MAP_OR_PAIR):
                    stack.pop()
                if stack:
                    stack.pop()
    except yaml.YAMLError:
        return None


def _place(mark: yaml.Mark) -> tuple[int, int]:
    return mark.line, mark.column - 1 if mark.line == 0 else mark.column
