"""``help()`` works on the public API in both builds: every name in ``vswitch.__all__``, and every public method
of its classes, has a docstring and a signature ``inspect`` can read (the compiled build gets them from setup.py's
docstring hook; without it mypyc leaves ``add_switch(...)`` and no text)."""

from __future__ import annotations

import ast
import inspect
import pydoc
import re
from functools import cache
from pathlib import Path

import pytest

import vswitch


@cache
def _source_properties(module: str, klass: str) -> frozenset[str]:
    """The properties ``klass`` defines in its source: in the compiled build its plain attributes are descriptors
    too, which the pure build does not list (they have no docstring in either)."""
    path = Path(vswitch.__file__).parent.joinpath(*module.split(".")[1:]).with_suffix(".py")
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ClassDef) and node.name == klass:
            return frozenset(item.name for item in node.body if isinstance(item, ast.FunctionDef)
                             and any(isinstance(d, ast.Name) and d.id == "property" for d in item.decorator_list))
    return frozenset()


def _public_callables() -> list[tuple[str, object]]:
    """``(name, object)`` for each callable public name and each public method or property of its classes,
    including those a class inherits from another vswitch class (``Network.run`` from ``Datapath``)."""
    found = []
    for name in vswitch.__all__:
        value = getattr(vswitch, name)
        if not callable(value):
            continue
        found.append((name, value))
        if not inspect.isclass(value):
            continue
        for klass in value.__mro__:
            if not klass.__module__.startswith("vswitch."):
                continue
            for attr, member in vars(klass).items():
                if attr.startswith("_") or any(attr == seen.rsplit(".", 1)[1] for seen, _ in found
                                                if seen.startswith(f"{name}.")):
                    continue
                if inspect.isgetsetdescriptor(member) and attr not in _source_properties(klass.__module__,
                                                                                           klass.__name__):
                    continue  # a compiled class's attribute
                if callable(member) or isinstance(member, (property, classmethod, staticmethod)) or \
                        inspect.isgetsetdescriptor(member):
                    found.append((f"{name}.{attr}", vars(klass)[attr] if inspect.isgetsetdescriptor(member)
                                  or isinstance(member, property) else getattr(value, attr)))
    return found


PUBLIC = _public_callables()



def test_the_walk_finds_the_api_of_every_layer():
    names = {name for name, _ in PUBLIC}
    assert {"Network.add_switch", "Network.connect", "Network.run", "LearningSwitch.handle_frame",
            "ForwardingTable.learn", "PhysicalAdapter.attach", "NIC.set_mac", "load_topology",
            "ScenarioRunner.run", "CaptureReader"} <= names


@pytest.mark.parametrize("name, value", PUBLIC, ids=[name for name, _ in PUBLIC])
def test_public_name_has_a_docstring(name, value):
    doc = inspect.getdoc(value)
    assert doc and "mypyc filler" not in doc, f"{name}: no docstring in the {vswitch.build_kind()} build"


CALLABLE = [(name, value) for name, value in PUBLIC
            if not isinstance(value, property) and not inspect.isgetsetdescriptor(value)]


@pytest.mark.parametrize("name, value", CALLABLE, ids=[name for name, _ in CALLABLE])
def test_public_callable_has_a_signature(name, value):
    inspect.signature(value)  # raises ValueError when the build left none


def test_help_of_network_shows_parameters_and_text():
    text = pydoc.render_doc(vswitch.Network, renderer=pydoc.plaintext)
    assert re.search(r"add_switch\(self, (/, )?name[^)]*\bports\b[^)]*=\s?0", text), text[:3000]
    assert "A learning switch with ``ports`` ports" in text
    assert "add_switch(...)" not in text
