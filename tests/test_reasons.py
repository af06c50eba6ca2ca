"""Drop reasons and verdicts: found by description or by the name files and reports write."""

import pytest

from vswitch import DropReason


@pytest.mark.parametrize("written", ["same_port", "SAME_PORT", "Same_Port",
                                     "destination learned on the ingress port (no hairpin)"])
def test_a_drop_reason_is_found_by_its_name_or_its_description(written):
    assert DropReason(written) is DropReason.SAME_PORT


def test_an_unknown_drop_reason_is_an_error():
    with pytest.raises(ValueError, match="'bogus' is not a valid DropReason"):
        DropReason("bogus")
