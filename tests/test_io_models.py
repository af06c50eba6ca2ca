"""I/O models (io/): the events each model counts per frame, batching, costs, and the vCPU clock."""

from fractions import Fraction

import pytest

from vswitch.io import CostTable, IoAccount, model_named
from vswitch.io.costs import DEFAULT_COSTS


def account(model, *, ghz=None, posted=False, coalesce=None, **costs):
    return IoAccount("vm1", model_named(model, posted_interrupts=posted),
                     CostTable(costs, cpu_ghz=None if ghz is None else Fraction(ghz)), irq_coalesce_ns=coalesce)


def ping(io, n=1, *, rtt_ns=20_000, gap_ns=1_000_000):
    """``n`` echo requests out and their replies in, as a pinging guest sees them."""
    for i in range(n):
        io.transmit(98, i * gap_ns)
        io.receive(98, i * gap_ns + rtt_ns)


def counts(io):
    data = io.summary(1)
    return {k: v for k, v in data.items() if k in ("device_accesses", "kicks", "interrupts", "copies",
                                                     "bytes_copied")} | {
        k: v for k, v in data["exits"].items() if v}


def test_emulated_e1000_transmit_is_a_tdt_write_and_its_completion_an_interrupt_of_five_accesses():
    io = account("emulated")
    io.transmit(98, 0)
    # TDT write; ICR read, IMC write, STATUS read, IMS write, STATUS read; injection and EOI
    assert counts(io) == {"device_accesses": 6, "kicks": 0, "interrupts": 1, "copies": 1, "bytes_copied": 98,
                          "mmio_exits": 6, "irq_injections": 1, "eoi_exits": 1}


def test_emulated_e1000_receive_adds_the_rdt_write_and_wakes_a_halted_vcpu():
    io = account("emulated")
    io.receive(98, 5_000)
    assert counts(io) == {"device_accesses": 6, "kicks": 0, "interrupts": 1, "copies": 1, "bytes_copied": 98,
                          "mmio_exits": 6, "irq_injections": 1, "eoi_exits": 1, "halt_exits": 1}


def test_emulated_ping_costs_twelve_register_accesses_without_interrupt_throttling():
    io = account("emulated", coalesce=0)
    ping(io, 10)
    assert io.device_accesses == 120 and io.interrupts == 20
    assert io.per_frame("exits") == (120 + 20 + 20 + 10) / 20  # mmio, injections, EOIs, halts


def test_emulated_interrupt_throttling_folds_the_reply_into_the_transmit_interrupt():
    io = account("emulated")  # by default ITR at 20,000 interrupts/s: an interrupt collects 50 us of completions
    ping(io, 10, rtt_ns=20_000)
    assert io.interrupts == 10 and io.device_accesses == 10 * (1 + 5 + 1)
    late = account("emulated")
    ping(late, 10, rtt_ns=60_000)
    assert late.interrupts == 20 and late.device_accesses == 120


def test_a_batch_of_frames_at_one_instant_is_one_doorbell_write_and_one_interrupt():
    io = account("emulated")
    for _ in range(3):
        io.transmit(60, 1000)
    assert io.exits["mmio_exits"] == 1 + 5 and io.interrupts == 1 and io.copies == 3


def test_virtio_ping_is_one_kick_and_two_interrupts_without_register_access():
    io = account("virtio")
    ping(io, 10)
    assert (io.kicks, io.interrupts, io.device_accesses) == (10, 20, 0)


def test_received_frames_at_one_instant_share_one_virtio_interrupt():
    io = account("virtio")
    for _ in range(4):
        io.receive(60, 7000)
    assert io.interrupts == 1 and io.frames_rx == 4


def test_vhost_kick_costs_an_in_kernel_exit_and_an_ioeventfd_and_its_copies_are_off_the_vcpu():
    io = account("vhost")
    io.transmit(100, 0)
    kick = DEFAULT_COSTS["exit_kernel"][0] + DEFAULT_COSTS["ioeventfd"][0]
    irq = DEFAULT_COSTS["irq_injection"][0] + DEFAULT_COSTS["eoi"][0]
    assert io.vcpu_cycles == kick + irq and io.cycles == kick + irq + io.costs.copy(100)


def test_passthrough_exits_only_for_interrupts_and_posted_interrupts_remove_them():
    plain, posted = account("passthrough"), account("passthrough", posted=True)
    for io in (plain, posted):
        io.transmit(98, 0)
    assert plain.exits["irq_injections"] == 1 and plain.exits["eoi_exits"] == 1
    assert posted.exit_total == 0 and posted.interrupts == 1 and posted.device_accesses == 1
    assert posted.copies == 0 and posted.cycles == 0


def test_xen_notifies_by_hypercall_and_the_backend_grant_copies_the_bytes():
    io = account("xen")
    ping(io, 2)
    assert io.exits["hypercalls"] == 2 and io.exits["irq_injections"] == 4 and io.bytes_copied == 4 * 98
    assert io.vcpu_cycles < io.cycles  # dom0 pays the copies


def test_syscall_model_traps_each_call_and_raises_no_interrupt():
    io = account("syscall")
    ping(io, 3)
    assert io.exits["syscall_traps"] == 6 and io.interrupts == 0 and io.exit_total == 6


def test_costs_are_overridable_and_the_indirect_factor_multiplies_exits_only():
    io = IoAccount("vm1", model_named("syscall"), CostTable({"exit_user": 1000}, indirect_factor=3))
    io.transmit(64, 0)
    assert io.cycles == 3000 + 16  # one trapped send(); 64 bytes copied at 16 cycles per 64 bytes
    with pytest.raises(ValueError, match="unknown cost 'exit'"):
        CostTable({"exit": 1})


def test_without_a_clock_frames_keep_their_time():
    io = account("emulated")
    assert io.transmit(98, 1000) == 1000 and io.receive(98, 5000) == 5000
    assert io.summary(10_000)["vcpu_busy"] is None


def test_with_a_clock_a_frame_leaves_after_the_cycles_its_vcpu_spends():
    io = account("syscall", ghz=2, exit_user=2000, copy_per_64_bytes=0)
    assert io.transmit(64, 1000) == 1000 + 1000  # 2000 cycles at 2 GHz


def test_a_busy_vcpu_limits_the_frame_rate():
    io = account("syscall", ghz=1, exit_user=10_000, copy_per_64_bytes=0)  # 10 us per frame
    leaves = [io.transmit(64, i * 1000) for i in range(5)]  # offered every 1 us
    assert leaves == [10_000, 20_000, 30_000, 40_000, 50_000]
    assert io.summary(50_000)["vcpu_busy"] == 1.0


def test_an_interrupt_for_a_busy_vcpu_waits_for_an_interrupt_window():
    io = account("virtio", ghz=1)
    io.transmit(1500, 0)
    io.receive(64, 1)  # the vCPU is still in the kick's exit
    assert io.exits["irq_window_exits"] == 1 and io.exits["halt_exits"] == 0


def test_docs_cost_table_and_model_table_are_the_code_s():
    from pathlib import Path

    from vswitch.io import MODELS

    doc = (Path(__file__).resolve().parent.parent / "docs" / "io-models.md").read_text()
    rows = [line.split("|")[1:-1] for line in doc.splitlines() if line.startswith("| `")]
    documented = {}
    for cells in rows:
        for name in cells[0].strip().replace("`", "").split(", "):
            if name in DEFAULT_COSTS:
                documented[name] = int(cells[1].strip().replace(",", ""))
    assert documented == {name: cycles for name, (cycles, _) in DEFAULT_COSTS.items()}
    assert {cells[0].strip().strip("`") for cells in rows} >= set(MODELS)
