"""The I/O models: where the hypervisor intercepts a vNIC's I/O and which events one frame causes.

Each model is data: the steps of a batch of transmits, of each frame, and of each interrupt, in the order the
guest driver and the device model take them (docs/io-models.md gives the sources). A step may trap (an exit,
named like KVM's ``kvm_stat`` counters), be a guest access to a device register (what ``vswitch io-check``
counts in QEMU), be a kick, and cost cycles from the cost table (``costs.py``), spent on the guest's vCPU or by
a backend elsewhere (a QEMU I/O thread, a vhost thread, Xen's dom0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: The exit counters a model can add to, in report order (kvm_stat's names; ``eoi_exits`` and ``syscall_traps``
#: have no kvm_stat counter of their own: APIC-write exits, and the teaching model's trapped system calls).
EXIT_REASONS: Final = ("mmio_exits", "io_exits", "hypercalls", "irq_injections", "eoi_exits", "irq_window_exits",
                       "halt_exits", "syscall_traps")


@dataclass(frozen=True)
class Step:
    """One event: ``what`` happens; ``exit``: the counter it adds to (None: no trap); ``costs``: its rows of the
    cost table; ``access``: a guest access to a device register; ``kick``: a notification to the backend;
    ``on_vcpu``: its cycles delay the guest (False: a backend pays them)."""

    what: str
    exit: str | None = None
    costs: tuple[str, ...] = ()
    access: bool = False
    kick: bool = False
    on_vcpu: bool = True


def _mmio(what: str) -> Step:
    """A guest access to an emulated device's register: a trap handled by the device model in QEMU."""
    return Step(what, "mmio_exits", ("exit_user",), access=True)


_INJECT: Final = Step("interrupt injected", "irq_injections", ("irq_injection",))
_EOI: Final = Step("EOI (APIC write)", "eoi_exits", ("eoi",))


@dataclass(frozen=True)
class IoModel:
    """``tx_batch``: once per batch of frames the guest queues at one instant (``xmit_more``); ``irq``: once per
    interrupt (a batch of completions); ``irq_rx``: added to an interrupt that brought received frames;
    ``copies``: copies of each frame's bytes and whether the vCPU pays them; ``tx_interrupts``: transmit
    completions interrupt the guest; ``shared_irq``: one interrupt serves both directions (e1000's one ICR)
    rather than one per queue (virtio's MSI-X vectors); ``tx_frame``/``rx_frame``: per frame (the system-call
    model's trapped calls); ``irq_coalesce_ns``: how long an interrupt collects completions by default."""

    name: str
    interface: str
    description: str
    tx_batch: tuple[Step, ...] = ()
    tx_frame: tuple[Step, ...] = ()
    rx_frame: tuple[Step, ...] = ()
    irq: tuple[Step, ...] = ()
    irq_rx: tuple[Step, ...] = ()
    copies_on_vcpu: bool = True
    copies: int = 1
    tx_interrupts: bool = True
    shared_irq: bool = False
    irq_coalesce_ns: int = 0


E1000: Final = IoModel(
    "emulated", "operation (device registers)",
    "QEMU's e1000: each register access of the Linux e1000 driver traps to the device model in QEMU",
    tx_batch=(_mmio("TDT write (e1000_tx_queue, once per xmit_more batch)"),),
    irq=(_INJECT, _mmio("ICR read (e1000_intr)"), _mmio("IMC write (e1000_intr)"),
         _mmio("STATUS read (E1000_WRITE_FLUSH)"), _mmio("IMS write (e1000_irq_enable)"),
         _mmio("STATUS read (E1000_WRITE_FLUSH)"), _EOI),
    irq_rx=(_mmio("RDT write (e1000_alloc_rx_buffers)"),),
    shared_irq=True,
    irq_coalesce_ns=50_000)  # ITR: Linux e1000 InterruptThrottleRate=3 starts at 20,000/s; QEMU's mitigation=on

RTL8139: Final = IoModel(
    "rtl8139", "operation (device registers)",
    "QEMU's rtl8139 (an RTL8139C+) driven by Linux's 8139cp: each register access traps to the device model in "
    "QEMU, and every frame rings the doorbell (TxPoll) itself",
    tx_frame=(_mmio("TxPoll write (cp_start_xmit, every frame: no xmit_more batching)"),),
    irq=(_INJECT, _mmio("IntrMask read (cp_interrupt)"), _mmio("IntrStatus read (cp_interrupt)"),
         _mmio("IntrStatus write: ack (cp_interrupt)"), _EOI),
    irq_rx=(_mmio("IntrMask write: receive interrupts off for NAPI (cpw16_f)"), _mmio("IntrMask read (flush)"),
            _mmio("IntrStatus write: ack receive (cp_rx_poll)"), _mmio("IntrMask write: all on again (cpw16_f)"),
            _mmio("IntrMask read (flush)")),
    shared_irq=True)  # one IntrStatus for both directions; QEMU's model has no interrupt throttling

VIRTIO: Final = IoModel(
    "virtio", "device driver (split driver)",
    "virtio-net with QEMU's user-space backend: a kick per batch, one interrupt per batch of completions",
    tx_batch=(Step("queue notify (kick), handled in QEMU", "mmio_exits", ("exit_user",), kick=True),),
    irq=(_INJECT, _EOI))

VHOST: Final = IoModel(
    "vhost", "device driver (split driver)",
    "virtio-net with the in-kernel vhost backend: the kick is an ioeventfd, the interrupt an irqfd",
    tx_batch=(Step("queue notify (kick) -> ioeventfd", "mmio_exits", ("exit_kernel", "ioeventfd"), kick=True),),
    irq=(Step("interrupt injected (irqfd)", "irq_injections", ("irq_injection",)), _EOI),
    copies_on_vcpu=False)

PASSTHROUGH: Final = IoModel(
    "passthrough", "none on the data path (assigned VF)",
    "an SR-IOV VF assigned to the guest: the guest drives the device itself; its interrupts go through the "
    "hypervisor (an exit to inject, an exit for the EOI) unless posted_interrupts",
    tx_batch=(Step("tail register write (no trap)", access=True),),
    irq=(Step("external interrupt exit, then injection", "irq_injections", ("irq_injection",)), _EOI),
    copies=0)

PASSTHROUGH_POSTED: Final = IoModel(
    "passthrough", PASSTHROUGH.interface, PASSTHROUGH.description,
    tx_batch=PASSTHROUGH.tx_batch, irq=(Step("posted interrupt (no exit)"),), copies=0)

XEN: Final = IoModel(
    "xen", "device driver (split driver in a driver domain)",
    "netfront/netback: event-channel notifications, grant copies by the backend in dom0",
    tx_batch=(Step("event channel notify (EVTCHNOP_send)", "hypercalls", ("hypercall",), kick=True),),
    irq=(Step("event channel upcall", "irq_injections", ("irq_injection",)),),
    copies_on_vcpu=False)

SYSCALL: Final = IoModel(
    "syscall", "system call (teaching model)",
    "the hypervisor traps the guest's send/receive system calls and performs the I/O itself; it must know every "
    "guest OS's system-call ABI, which is why no real hypervisor does this",
    tx_frame=(Step("send() trapped", "syscall_traps", ("exit_user",)),),
    rx_frame=(Step("recv() trapped", "syscall_traps", ("exit_user",)),),
    tx_interrupts=False)

NONE: Final = IoModel(
    "none", "none (not modelled)",
    "no model: frames are counted, no event is (a VM that migrated to a hypervisor without a model)", copies=0)

#: The models by their ``io:`` name (``none`` is no model: nothing is accounted).
MODELS: Final = {"emulated": E1000, "rtl8139": RTL8139, "virtio": VIRTIO, "vhost": VHOST, "passthrough": PASSTHROUGH,
                 "xen": XEN, "syscall": SYSCALL}
MODEL_NAMES: Final = ("none", *MODELS)


def model_named(name: str, *, posted_interrupts: bool = False) -> IoModel:
    """The model ``name`` (with posted interrupts: passthrough's variant; ``none``: no event at all)."""
    if name == "passthrough" and posted_interrupts:
        return PASSTHROUGH_POSTED
    if name == "none":
        return NONE
    return MODELS[name]
