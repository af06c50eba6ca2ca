"""``vswitch io-check``: boot a Linux guest under QEMU, count its NIC's register accesses, kicks and interrupts
from QEMU's trace events, and compare them with an I/O model's prediction for the same traffic."""
