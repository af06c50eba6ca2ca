"""The build under test: ``pytest`` tests the installed package, whose per-frame modules setup.py compiles with
mypyc where a C compiler is at hand; ``python -m pytest`` tests the source tree, pure Python."""

from __future__ import annotations

import ast
import importlib
import os
from pathlib import Path

import pytest

from conftest import SOURCE, UNDER_TEST

from vswitch import build_kind
from vswitch.buildinfo import stale_modules

SETUP = Path(__file__).resolve().parents[1] / "setup.py"


def compiled_modules() -> list[str]:
    """setup.py's ``COMPILED`` list, read without running setup.py."""
    for node in ast.parse(SETUP.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "COMPILED":
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no COMPILED list")


def test_every_compiled_module_exists_in_the_package():
    assert compiled_modules() and all((SOURCE / f"{path}.py").is_file() for path in compiled_modules())


@pytest.mark.skipif(UNDER_TEST == SOURCE, reason="testing the source tree (python -m pytest): pure Python by design")
@pytest.mark.skipif(not os.environ.get("CI"), reason="only CI promises a C compiler for the install")
def test_ci_tests_the_compiled_build():
    assert build_kind() == "compiled (mypyc)"
    modules = [importlib.import_module("vswitch." + path.replace("/", ".")) for path in compiled_modules()]
    assert [m.__name__ for m in modules if m.__file__.endswith(".py")] == []



def test_sources_edited_after_an_in_place_build_are_reported(tmp_path):
    package = tmp_path / "vswitch"
    package.mkdir()
    for name, edited in (("datapath", 200), ("switch", 50)):  # compiled at 100: datapath.py was edited since
        (package / f"{name}.py").write_text("")
        os.utime(package / f"{name}.py", (edited, edited))
        (package / f"{name}.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
        os.utime(package / f"{name}.cpython-311-x86_64-linux-gnu.so", (100, 100))
    assert stale_modules(package) == []  # no setup.py beside it: an installed copy, never stale
    (tmp_path / "setup.py").write_text("")
    assert stale_modules(package) == ["datapath.py"]
