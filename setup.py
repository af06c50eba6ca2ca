"""Build hook: compiles the per-frame modules to C with mypyc, falling back to pure Python.

The modules in ``COMPILED`` are the path every frame takes (docs/performance.md); mypyc turns their type-annotated
Python into a C extension, about 1.7 times the frames per second of the same code interpreted, with the same
behaviour (the test suite runs on both builds). Without a C compiler, on an interpreter other than CPython, or with
``VSWITCH_PURE_PYTHON=1``, the package installs as pure Python and ``vswitch --version`` says so.
"""

import ast
import os
import platform
import re
import sys

from setuptools import setup

#: The per-frame modules, as paths under vswitch/ without ".py".
COMPILED = ["core/engine", "l2/port", "l2/decision", "l2/fdb", "l2/switch", "l2/nic", "l2/adapter", "pcap/writer",
            "l2/macvlan_members",  # the adapter's table of vNICs, read for every frame it replicates
            "l2/flood_batch",  # its floods' copies nobody watches, counted in bulk
            "net/capture", "net/datapath", "net/stats", "net/stream", "net/network",
            "l2/vxlan",  # its tunnel endpoint is a device (a Node): an interpreted class cannot subclass a compiled one
            "guests/headers", "guests/inet", "guests/arp", "guests/stack", "guests/stackdriver"]


def _say(message: str) -> None:
    print(f"vswitch build: {message}", file=sys.stderr)


def compiled_extensions() -> list:
    if os.environ.get("VSWITCH_PURE_PYTHON"):
        _say("VSWITCH_PURE_PYTHON is set: installing pure Python")
        return []
    if platform.python_implementation() != "CPython":
        _say(f"mypyc compiles for CPython only: installing pure Python on {platform.python_implementation()}")
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        _say("mypyc is not installed in the build environment: installing pure Python")
        return []
    try:
        extensions = mypycify(["--follow-imports=silent", "--ignore-missing-imports",
                               *(f"vswitch/{name}.py" for name in COMPILED)], opt_level="3")
    except (Exception, SystemExit) as exc:  # mypyc prints type errors, then exits: still install, uncompiled
        reason = "type errors above" if isinstance(exc, SystemExit) else exc
        _say(f"mypyc could not compile the per-frame modules ({reason}): installing pure Python")
        return []
    keep_docstrings(extensions, source_docstrings([f"vswitch/{name}.py" for name in COMPILED]))
    for extension in extensions:
        extension.optional = True  # a failed C build leaves the pure-Python modules in place
    return extensions


def source_docstrings(paths: list) -> dict:
    """``(module, class or None, function or None) -> docstring`` for the classes, methods and functions of the
    modules at ``paths``, read from their source (mypyc's IR no longer has them)."""
    found = {}
    for path in paths:
        module = path[:-len(".py")].replace("/", ".")
        with open(path, encoding="utf-8") as source:
            tree = ast.parse(source.read(), path)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found[module, None, node.name] = ast.get_docstring(node)
            elif isinstance(node, ast.ClassDef):
                found[module, node.name, None] = ast.get_docstring(node)
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        prop = any(isinstance(d, ast.Name) and d.id == "property" for d in item.decorator_list)
                        key = (module, node.name, item.name) + (("property",) if prop else ())
                        doc = ast.get_docstring(item)
                        if doc:  # the first def that has one: @overload stubs before the definition have none
                            found.setdefault(key, doc)
    return {key: doc for key, doc in found.items() if doc}


def keep_docstrings(extensions: list, docs: dict) -> None:
    """Write each compiled class's, method's and property's docstring into the C that mypyc generated.

    mypyc keeps only a text signature (``add_switch($self, name, *, ports=0, ...)``), so without this
    ``help(vswitch.Network)`` and editors would show no text for the compiled classes. mypyc is itself compiled,
    so its code generator cannot be patched from Python: the generated C is edited instead, at the three places
    it writes a doc string (a method table entry, a property entry, a type's ``tp_doc``). The places are found by
    the names mypyc gives those tables (``<module>___<Class>_methods``; ``mypy==`` is pinned in pyproject.toml).
    tests/test_api_help.py fails on the compiled install if one is missed.
    """
    modules = {key[0].rsplit(".", 1)[-1]: key[0] for key in docs}  # COMPILED's last parts are unique
    for path in {source for extension in extensions for source in extension.sources if source.endswith(".c")}:
        with open(path, encoding="utf-8") as source:
            text = source.read()

        def owner(table_name: str) -> tuple:
            """``adapter___PhysicalAdapter`` -> (vswitch.l2.adapter, PhysicalAdapter); ``adaptermodule``: None."""
            short, _, klass = table_name.partition("___")
            if not klass and short.endswith("module"):
                return modules.get(short[:-len("module")]), None
            return modules.get(short), klass

        def methods(table) -> str:
            module, klass = owner(table[1])
            return table[0].replace(table[2], _METHOD.sub(
                lambda m: _with_doc(m, docs.get((module, klass, m[1]))), table[2]))

        def getseters(table) -> str:
            module, klass = owner(table[1])
            return table[0].replace(table[2], _PROPERTY.sub(
                lambda m: _with_doc(m, docs.get((module, klass, m[1], "property"))), table[2]))

        def type_doc(struct) -> str:
            module, klass = owner(struct[1])
            return _TYPE_DOC.sub(lambda m: _with_doc(m, docs.get((module, klass, None))), struct[0])

        text = _METHOD_TABLE.sub(methods, text)
        text = _GETSET_TABLE.sub(getseters, text)
        text = _TYPE_STRUCT.sub(type_doc, text)
        with open(path, "w", encoding="utf-8") as source:
            source.write(text)


_C_STRING = r'"(?:[^"\\]|\\.)*"'
_METHOD_TABLE = re.compile(r"static PyMethodDef (\w+)_methods\[\] = \{(.*?)\n\s*\};", re.S)
_GETSET_TABLE = re.compile(r"static PyGetSetDef (\w+)_getseters\[\] = \{(.*?)\n\s*\};", re.S)
_TYPE_STRUCT = re.compile(r"static PyTypeObject CPyType_(\w+)_template_ = \{.*?\n\s*\};", re.S)
#: ``{"name", (PyCFunction)..., FLAGS, PyDoc_STR("sig\n--\n\n")}`` (or ``PyDoc_STR(NULL)``)
_METHOD = re.compile(r'\{"(\w+)",(\s*\(PyCFunction\)\w+,\s*[\w |]+,\s*PyDoc_STR\()(NULL|' + _C_STRING + r")\)")
#: ``{"name", (getter)..., (setter)... or NULL, NULL, NULL}``: the doc is the third field
_PROPERTY = re.compile(r'\{"(\w+)",(\s*\(getter\)\w+,\s*(?:\(setter\)\w+|NULL),\s*)(NULL)(?=,\s*NULL\})')
_TYPE_DOC = re.compile(r"()(\.tp_doc = PyDoc_STR\()(NULL|" + _C_STRING + r")\)")


def _with_doc(match, doc: "str | None") -> str:
    """``match`` (name, prefix, C string or NULL) with ``doc`` after the text signature, if there is one."""
    name, prefix, current = match[1], match[2], match[3]
    head = match[0][:match.start(2) - match.start(0)]
    if not doc:
        return match[0]
    encoded = "".join(chr(b) if 32 <= b < 127 and chr(b) not in '"\\?' else f"\\{b:03o}" for b in doc.encode())
    if current == "NULL":
        return f'{head}{prefix}"{encoded}"' + match[0][match.end(3) - match.start(0):]
    return f'{head}{prefix}{current[:-1]}{encoded}"' + match[0][match.end(3) - match.start(0):]


setup(ext_modules=compiled_extensions())
