"""The ``loss`` expectation: the share of frames a link's impairments lost (``l2/impair.py``), checked against
its bounds. Its row of ``registry.CHECKS``."""

from __future__ import annotations

from ..l2.port import LinkEnd
from ..topology.impair_reader import LossCheck, link_ends
from .context import ScenarioContext
from .registry import checks


def _percent(share: float) -> str:
    return f"{share * 100:.4g}%"


@checks(LossCheck)
def _loss(context: ScenarioContext, check: LossCheck) -> tuple[str, bool, str]:
    net = context.net
    ends = link_ends(check.on)
    if len(ends) == 2:
        link = net.link(ends[0], ends[1])
        directions: tuple[LinkEnd, ...] = (link.a_to_b, link.b_to_a)
        what = f"link {link.name}"
    else:
        port = net.port(ends[0])
        peer = port.peer
        directions = (peer,) if isinstance(peer, LinkEnd) else ()
        what = f"what {port.full_name} sends onto its cable"
    low, high = check.between
    description = f"{what} loses {_percent(low)} to {_percent(high)} of its frames"
    impaired = [end.impair for end in directions if end.impair is not None]
    if not impaired:
        return description, False, "no impairments there: vswitch counts lost frames only on impaired links"
    offered = sum(d.offered for d in impaired)
    lost = sum(sum(d.lost.values()) for d in impaired)
    if not offered:
        return description, False, "no frames crossed it"
    share = lost / offered
    return description, low <= share <= high, f"{_percent(share)} ({lost:,} of {offered:,})"
