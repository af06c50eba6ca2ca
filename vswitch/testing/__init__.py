"""Testing with vswitch: the pytest plugin (``plugin``: topology files as tests, fixtures, markers) and the
assertions that read like a scenario (``asserts``: ``assert_delivered(net, frame_id, ["vm2"])``).

pytest loads ``plugin`` through the ``pytest11`` entry point of an installed vswitch, in every pytest run, so
nothing here imports the rest of vswitch until it is used (PEP 562); ``asserts`` needs no pytest.
docs/testing.md describes both.
"""

from importlib import import_module

__all__ = ["assert_delivered", "assert_dropped", "assert_passed"]


def __getattr__(name: str) -> object:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.asserts"), name)
