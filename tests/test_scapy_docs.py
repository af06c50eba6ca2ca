"""docs/scapy.md's interactive session prints what the docs say it prints."""

import doctest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_scapy_session_in_the_docs_runs_as_shown(monkeypatch):
    monkeypatch.chdir(ROOT)  # the session loads topologies/two-vms-one-adapter.yaml
    result = doctest.testfile(str(ROOT / "docs" / "scapy.md"), module_relative=False, optionflags=doctest.ELLIPSIS,
                              raise_on_error=False, verbose=False)
    assert result.attempted >= 20
    assert result.failed == 0, "docs/scapy.md's session differs from what it prints (the doctest output above)"
