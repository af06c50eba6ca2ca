"""The ``io`` key of a VM or hypervisor (docs/topology.md, docs/io-models.md) and the ``io`` expectation.

``io: virtio`` names a model; a mapping gives its settings too (``{model: emulated, cpu_ghz: 3.0}``). A
hypervisor's ``io`` is the default of its VMs: a VM's own keys override it key by key (``costs`` entry by entry).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping, Optional

from ..core.units import decimal_number, parse_duration
from ..io.costs import DEFAULT_COSTS
from ..io.models import MODEL_NAMES
from .fields import where
from .located import LocatedMap
from .spec import Expectation, IoSpec, Named, Where
from .yamlreader import MapReader, boolean, describe, integer_between, one_of, text

IO_KEYS = ("model", "cpu_ghz", "posted_interrupts", "irq_coalesce", "indirect_factor", "costs")
#: The counters an ``io`` expectation can bound per frame (docs/topology.md, expect).
PER_FRAME = ("exits_per_frame", "device_accesses_per_frame", "kicks_per_frame", "interrupts_per_frame",
             "copies_per_frame", "cycles_per_frame")
_model = one_of(*MODEL_NAMES)


def cpu_ghz(value: object) -> Any:
    """A vCPU clock in GHz: a plain positive decimal up to 100."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected a clock in GHz such as 3.0, got {describe(value)}")
    try:
        ghz = decimal_number(str(value))
    except ValueError:
        raise ValueError(f"expected a clock in GHz such as 3.0, got {value!r}") from None
    if not 0 < ghz <= 100:
        raise ValueError(f"a vCPU clock is more than 0 and at most 100 GHz, not {value}")
    return ghz


def read_io(r: MapReader, inherited: IoSpec | None = None, *, vm: bool = True) -> IoSpec | None:
    """The ``io`` key of the VM (``vm``) or hypervisor mapping ``r`` over ``inherited`` (its hypervisor's);
    None: none. A hypervisor's settings without a model are only defaults: checked where a VM names one."""
    raw = r.mapping.get("io")
    if "io" not in r.mapping:
        return inherited
    if isinstance(raw, LocatedMap):
        reader = r.take_map("io")
        given = _given(reader)
        reader.finish()
    else:
        model = r.take("io", _model)
        if model == "none":  # io: none: no model, whatever the hypervisor's settings
            return IoSpec(where=where(r, "io"), own=(("model", "none"),) if vm else ())
        given = {"model": model} if model is not None else {}
    spec = io_on(inherited, given, where(r, "io"))
    if not vm:  # a hypervisor's keys are its VMs' defaults, none's own
        spec = replace(spec, own=())
    if vm or spec.model != "none":
        _check(r, spec)
    return spec


def io_on(defaults: IoSpec | None, given: Mapping[str, Any], at: Where) -> IoSpec:
    """The I/O settings ``given`` by a VM's own ``io`` (or a hypervisor's) over the ``defaults`` of the hypervisor
    it runs on, key by key (``costs`` entry by entry). ``at``: where the ``io`` key is. A migration calls it again
    with the destination's defaults (``io_after_move``)."""
    fields = _fields(defaults)
    costs = dict(fields.pop("costs")) | dict(given.get("costs", ()))
    fields.update((key, value) for key, value in given.items() if key != "costs")
    return IoSpec(**fields, costs=tuple(sorted(costs.items())), where=at, own=tuple(given.items()))


def io_after_move(vm: IoSpec | None, destination: IoSpec | None) -> IoSpec | None:
    """A VM's I/O settings once it runs on a hypervisor whose defaults are ``destination``: its own keys stay,
    the rest are the destination's (None: no model there). ``vm``: its settings where it was."""
    own = dict(vm.own) if vm is not None else {}
    if not own:
        return destination
    if own.get("model") == "none":  # the VM's own io: none
        return vm
    assert vm is not None
    return io_on(destination, own, vm.where)


def _fields(spec: IoSpec | None) -> dict[str, Any]:
    base = spec or IoSpec()
    return {"model": base.model, "cpu_ghz": base.cpu_ghz, "posted_interrupts": base.posted_interrupts,
            "irq_coalesce_ns": base.irq_coalesce_ns, "indirect_factor": base.indirect_factor, "costs": base.costs}


def _given(reader: MapReader) -> dict[str, Any]:
    """The keys the ``io`` mapping gives (those absent are inherited)."""
    found = {"model": reader.take("model", _model, default=None),
             "cpu_ghz": reader.take("cpu_ghz", cpu_ghz, default=None),
             "posted_interrupts": reader.take("posted_interrupts", boolean, default=None),
             "irq_coalesce_ns": reader.take("irq_coalesce", parse_duration, default=None),
             "indirect_factor": reader.take("indirect_factor", integer_between(1, 100), default=None)}
    if "costs" in reader.mapping:
        costs = reader.take_map("costs")
        entries = []
        for name in costs.names("cost"):
            if name in DEFAULT_COSTS:
                cycles = costs.take(name, integer_between(0, 10**9))
                if cycles is not None:
                    entries.append((name, cycles))
            else:
                costs.error(name, f"unknown cost {name!r}; the costs are: {', '.join(DEFAULT_COSTS)}")
                costs.take(name, lambda v: v)
        costs.finish()
        found["costs"] = tuple(entries)
    return {key: value for key, value in found.items() if value is not None}


def _check(r: MapReader, spec: IoSpec) -> None:
    if spec.posted_interrupts and spec.model != "passthrough":
        r.error("io", f"posted_interrupts applies to model passthrough (an assigned VF), not {spec.model}")
    if spec.model == "none" and (spec.cpu_ghz is not None or spec.costs or spec.irq_coalesce_ns is not None
                                 or spec.indirect_factor != 1):
        r.error("io", "model none accounts nothing: its cpu_ghz, costs, irq_coalesce and indirect_factor would "
                      "have no effect; name a model (emulated, rtl8139, virtio, vhost, passthrough, xen or syscall)")


def _bounds(value: object) -> tuple[Optional[float], Optional[float]]:
    """``{max: 2}``, ``{min: 1, max: 2}``: the bounds of a per-frame figure."""
    if not isinstance(value, dict) or not value or set(value) - {"min", "max"}:
        raise ValueError(f"expected a mapping with min and/or max, such as {{max: 2}}, got {describe(value)}")
    bounds = []
    for key in ("min", "max"):
        bound = value.get(key)
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, float)) or bound < 0):
            raise ValueError(f"{key}: expected a number of at least 0, got {describe(bound)}")
        bounds.append(None if bound is None else float(bound))
    if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
        raise ValueError(f"min {bounds[0]:g} is above max {bounds[1]:g}")
    return bounds[0], bounds[1]


@dataclass(frozen=True, kw_only=True)
class IoCheck(Expectation, kind="io"):
    """A VM's I/O figures per frame it sent or received, each within its bounds (``exits_per_frame: {max: 2}``)."""

    vm: str
    limits: tuple[tuple[str, Optional[float], Optional[float]], ...]  # (figure, min, max)

    @classmethod
    def read(cls, r: MapReader) -> IoCheck:
        vm = r.take("vm", text)
        limits = []
        for figure in PER_FRAME:
            bounds = r.take(figure, _bounds, default=None)
            if bounds is not None:
                limits.append((figure, *bounds))
        if not any(figure in r.mapping for figure in PER_FRAME):
            r.error(None, f"bound at least one of {', '.join(PER_FRAME)}, e.g. exits_per_frame: {{max: 2}}")
        r.finish()
        return cls(vm=vm, limits=tuple(limits))

    def named(self) -> Named:
        return (("vm", self.vm, "VM"),)


IO_EXPECTATIONS = {"io": IoCheck.read}
