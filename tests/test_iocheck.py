"""``vswitch io-check``: the guest image, the trace counting, the model's prediction, and (with QEMU, a kernel, a
static busybox and root) the comparison with a real guest."""

import gzip
import os
import shutil
from pathlib import Path

import pytest

from vswitch.iocheck.check import SHORT_RUN, Row, compare, predict
from vswitch.iocheck.guest import GuestImage, IoCheckError, build_initramfs, find_image, module_order
from vswitch.iocheck.qemu import QEMU, count_trace


def printed(text):
    """The trace of the guest writing ``text`` on its serial console."""
    return "".join(f"memory_region_ops_write cpu 0 mr 0x9 addr 0x3f8 value {ord(c):#x} size 1 name 'serial'\n"
                   for c in text)


def marked(trace):
    """``trace`` between the guest's markers, with the same events before and after them (not counted)."""
    return (trace + printed("IOCHECK-START\n") + trace + printed("IOCHECK-DONE\n") + trace).splitlines()

E1000_TRACE = """\
memory_region_ops_write cpu 0 mr 0x1 addr 0xfebc3818 value 0x5 size 4 name 'e1000-mmio'
memory_region_ops_read cpu 0 mr 0x1 addr 0xfebc00c0 value 0x83 size 4 name 'e1000-mmio'
memory_region_ops_write cpu 0 mr 0x1 addr 0xfebc00d8 value 0xffffffff size 4 name 'e1000-mmio'
memory_region_ops_read cpu 0 mr 0x1 addr 0xfebc0008 value 0x80080783 size 4 name 'e1000-mmio'
memory_region_ops_read cpu 0 mr 0x1 addr 0xfebc00c0 value 0x0 size 4 name 'e1000-mmio'
memory_region_ops_write cpu 0 mr 0x2 addr 0x70 value 0x8f size 1 name 'rtc-index'
memory_region_ops_read cpu 0 mr 0x1 addr 0xfebc4010 value 0x2a size 4 name 'e1000-mmio'
"""
RTL8139_TRACE = """\
memory_region_ops_write cpu 0 mr 0x7 addr 0xfebf10d9 value 0x40 size 1 name 'rtl8139'
memory_region_ops_read cpu 0 mr 0x7 addr 0xfebf103c value 0x80ff size 2 name 'rtl8139'
memory_region_ops_read cpu 0 mr 0x7 addr 0xfebf103e value 0x5 size 2 name 'rtl8139'
memory_region_ops_write cpu 0 mr 0x7 addr 0xfebf103e value 0x4 size 2 name 'rtl8139'
memory_region_ops_read cpu 0 mr 0x7 addr 0xfebf103e value 0x0 size 2 name 'rtl8139'
"""
VIRTIO_TRACE = """\
memory_region_ops_write cpu 0 mr 0x3 addr 0xfe003000 value 0x1 size 2 name 'virtio-pci-notify-virtio-net'
virtio_queue_notify vdev 0x4 n 1 vq 0x5
virtio_notify vdev 0x4 vq 0x5
virtio_notify vdev 0x4 vq 0x6
memory_region_ops_read cpu 0 mr 0x3 addr 0xfe000014 value 0x0 size 1 name 'virtio-pci-common-virtio-net'
"""


def test_e1000_trace_counts_register_accesses_and_interrupts_by_icr_reads_with_a_cause():
    counts = count_trace(marked(E1000_TRACE), "e1000")
    assert (counts.device_accesses, counts.kicks, counts.interrupts) == (5, 0, 1)
    assert counts.registers == {"write TDT": 1, "read ICR": 2, "write IMC": 1, "read STATUS": 1}
    assert counts.periodic == 1  # a statistics register, read by the driver's watchdog


def test_rtl8139_trace_counts_register_accesses_and_interrupts_by_intr_status_reads_with_a_cause():
    counts = count_trace(marked(RTL8139_TRACE), "rtl8139")
    assert (counts.device_accesses, counts.kicks, counts.interrupts) == (5, 0, 1)
    assert counts.registers == {"write TxPoll": 1, "read IntrMask": 1, "read IntrStatus": 2, "write IntrStatus": 1}


def test_virtio_trace_counts_kicks_and_interrupts_and_leaves_the_notify_write_out_of_register_accesses():
    counts = count_trace(marked(VIRTIO_TRACE), "virtio")
    assert (counts.device_accesses, counts.kicks, counts.interrupts) == (1, 1, 2)


def test_modules_load_after_what_they_need(tmp_path):
    (tmp_path / "modules.dep").write_text(
        "kernel/net/virtio_net.ko: kernel/net/net_failover.ko kernel/core/failover.ko kernel/virtio/virtio.ko "
        "kernel/virtio/virtio_ring.ko\nkernel/net/net_failover.ko: kernel/core/failover.ko\nkernel/core/failover.ko:\n"
        "kernel/virtio/virtio.ko: kernel/virtio/virtio_ring.ko\nkernel/virtio/virtio_ring.ko:\n"
        "kernel/virtio/virtio_pci.ko: kernel/virtio/virtio.ko kernel/virtio/virtio_ring.ko\n")
    assert [Path(p).stem for p in module_order(tmp_path, ("virtio_pci", "virtio_net"))] == [
        "virtio_ring", "virtio", "virtio_pci", "failover", "net_failover", "virtio_net"]
    with pytest.raises(IoCheckError, match="has no module e1000"):
        module_order(tmp_path, ("e1000",))


def test_the_initramfs_is_a_newc_archive_with_init_busybox_console_and_modules(tmp_path):
    (tmp_path / "modules.dep").write_text("kernel/e1000.ko:\n")
    (tmp_path / "kernel").mkdir()
    (tmp_path / "kernel" / "e1000.ko").write_bytes(b"module")
    (tmp_path / "busybox").write_bytes(b"\x7fELF static")
    archive = gzip.decompress(build_initramfs(GuestImage(tmp_path / "vmlinuz", tmp_path, tmp_path / "busybox"),
                                              "e1000"))
    names, offset = [], 0
    while True:
        header = archive[offset:offset + 110]
        assert header[:6] == b"070701"
        size, name_size = int(header[54:62], 16), int(header[94:102], 16)
        name = archive[offset + 110:offset + 110 + name_size - 1].decode()
        offset = (offset + 110 + name_size + 3) // 4 * 4
        data = archive[offset:offset + size]
        offset = (offset + size + 3) // 4 * 4
        if name == "TRAILER!!!":
            break
        names.append(name)
        if name == "modules":
            assert data == b"e1000.ko\n"
        if name == "init":
            assert b"ping -c $N -A 10.0.2.2" in data and b"ip addr add 10.0.2.15/24 dev eth0" in data
    assert {"init", "bin/busybox", "dev/console", "lib/modules/e1000.ko", "modules"} <= set(names)


def test_the_models_prediction_per_ping():
    emulated = predict("emulated", 30).minus(predict("emulated", SHORT_RUN))
    virtio = predict("virtio", 30).minus(predict("virtio", SHORT_RUN))
    # e1000: TDT; one interrupt for the request's completion and the reply: ICR, IMC, STATUS, RDT, IMS, STATUS
    assert (emulated.device_accesses, emulated.interrupts) == (7 * 20, 20)
    assert (virtio.device_accesses, virtio.kicks, virtio.interrupts) == (0, 20, 40)
    # rtl8139 (8139cp): TxPoll; one interrupt, the reply arriving as the request completes (QEMU's user-mode
    # gateway answers at once): IntrMask, IntrStatus, its ack; for the reply IntrMask off and on (each flushed)
    # and the receive ack
    rtl8139 = predict("rtl8139", 30).minus(predict("rtl8139", SHORT_RUN))
    assert (rtl8139.device_accesses, rtl8139.interrupts) == (9 * 20, 20)


def test_agreement_is_within_fifteen_percent_per_counter():
    assert Row("interrupts", 2.0, 2.29).agrees and not Row("interrupts", 2.0, 2.31).agrees
    assert Row("device_accesses", 0.0, 0.0).agrees and not Row("device_accesses", 0.0, 1.0).agrees


def _guest_missing() -> str:
    if os.geteuid() != 0:
        return "io-check boots a guest from /boot: needs root"
    if shutil.which(QEMU) is None:
        return f"needs {QEMU} (apt-get install qemu-system-x86)"
    try:
        find_image()
    except IoCheckError as exc:
        return str(exc)
    return ""


@pytest.mark.skipif(bool(_guest_missing()), reason=_guest_missing() or "-")
@pytest.mark.parametrize("model", ["emulated", "rtl8139", "virtio"])
def test_the_model_agrees_with_a_real_guest_under_qemu(model):
    rows, measured = compare(model, 50)  # 40 pings of difference: the e1000 watchdog's share stays small
    assert all(row.agrees for row in rows), rows
    if model == "virtio":
        assert [row.counter for row in rows] == ["device_accesses", "kicks", "interrupts"]
        assert measured.device_accesses == 0
