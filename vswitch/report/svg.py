"""Small, deterministic SVG and HTML writing: escaped text, elements with attributes in a fixed order, the colour
of a VLAN, and a text width estimate for laying boxes out without a browser."""

from __future__ import annotations

from html import escape
from typing import Iterable

#: Average advance of a character of the report's sans-serif font, per pixel of font size (DejaVu Sans and
#: Liberation Sans sit near 0.55-0.6; the larger value keeps text inside its box).
CHAR_WIDTH = 0.62

#: Colour-blind-safe palette (Okabe and Ito) for VLANs; VLAN ids cycle through it.
VLAN_COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#7f6a00")
NO_VLAN = "#555555"


def text_width(text: str, size: float) -> float:
    """An upper estimate of the width of ``text`` at font ``size`` px."""
    return len(text) * size * CHAR_WIDTH


def vlan_colour(vid: int | None) -> str:
    """The colour that marks VLAN ``vid`` everywhere in one report (grey without a VLAN)."""
    return NO_VLAN if vid is None else VLAN_COLOURS[vid % len(VLAN_COLOURS)]


def number(value: float) -> str:
    """A coordinate as short, stable text: integers without a decimal point, others to one decimal."""
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else f"{rounded:.1f}"


def attrs(**values: object) -> str:
    """`` key="value"`` pairs in the order given; ``class_`` is written ``class``, ``data_x`` as ``data-x``;
    None values are left out."""
    parts = []
    for key, value in values.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        shown = number(value) if isinstance(value, float) else str(value)
        parts.append(f' {name}="{escape(shown)}"')
    return "".join(parts)


def element(tag: str, content: str | None = None, **values: object) -> str:
    """``<tag attrs>content</tag>``, or ``<tag attrs/>`` without content; ``content`` is already markup."""
    if content is None:
        return f"<{tag}{attrs(**values)}/>"
    return f"<{tag}{attrs(**values)}>{content}</{tag}>"


def text(x: float, y: float, content: str, **values: object) -> str:
    """A ``<text>`` element holding ``content`` escaped."""
    return element("text", escape(content), x=float(x), y=float(y), **values)


def table(title: str, rows: list[dict[str, object]], *, anchor: str, links: Iterable[str] = ()) -> str:
    """An HTML table of ``rows`` (the keys of the first row are the header) under an ``<h2>`` titled ``title``;
    the values of the columns in ``links`` become relative links."""
    if not rows:
        return ""
    linked = set(links)
    head = "".join(f"<th>{escape(str(key))}</th>" for key in rows[0])
    body = []
    for row in rows:
        cells = []
        for key, value in row.items():
            shown = escape(str(value))
            if key in linked:
                shown = f'<a href="{escape(str(value))}">{shown}</a>'
            css = ' class="fail"' if value == "FAIL" else ' class="pass"' if value == "PASS" else ""
            cells.append(f"<td{css}>{shown}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<section id="{anchor}"><h2>{escape(title)}</h2><div class="scroll"><table><thead><tr>{head}</tr>'
            f"</thead><tbody>{''.join(body)}</tbody></table></div></section>")
