"""Flood copies that nobody watches, counted in bulk.

A broadcast an adapter takes from its uplink goes to every vNIC of the VLAN. Most of those copies leave nothing
behind but counts: the wire end's tx and the vNIC's rx, packets and bytes (no capture, no trace, no stack, no I/O
model: ``nic.silent_receiver``). Adding those four numbers on two objects per copy was most of a large flood's time
(10,000 vNICs: 100 million copies for one broadcast from each). A ``FloodBatch`` does it once per flood instead.

A batch belongs to one of an adapter's ready replication lists (``macvlan_members.Vlan.flooded``). It splits the
list into the *silent* copies and the *loud* ones (which take the datapath's normal path, in order), and keeps how
many packets and bytes each silent copy was sent since its counts were last spread onto its ports. An adapter's
``FloodLedger`` lists the batches holding counts; reading the ``counters`` of any port in a batch spreads them all
(``port.PortCounters``), so every reader sees the same numbers as if each copy had been counted on its own.

A batch holds while ``STATE_VERSION`` (``port.py``) is unchanged: any change that could make a copy watched, or
not taken (a port down, a tap added, a stack attached...), makes the adapter build its lists and batches again.
``tests/test_fanout.py`` compares every port's counters with the copy-by-copy path.
"""

from __future__ import annotations

from typing import Final, Sequence

from .port import STATE_VERSION, PendingCounts, Port

_NO_LIMIT: Final = 1 << 62


class FloodLedger(PendingCounts):
    """One adapter's batches that hold counts not yet on their ports (``pending``: there are some)."""

    def __init__(self) -> None:
        super().__init__()
        self.holding: list[FloodBatch] = []
        self.last: FloodBatch | None = None  # the batch of the ready list the adapter decided on last

    def settle(self) -> None:
        """Spread every held count onto its ports."""
        holding, self.holding = self.holding, []
        self.pending = False
        for batch in holding:
            batch.settle()


class FloodBatch:
    """The silent copies of one ready list (``outputs``), counted in bulk, and its loud ones, in order."""

    def __init__(self, outputs: tuple[Port, ...], silent: Sequence[Port | None], ledger: FloodLedger) -> None:
        """``silent``: for each output, where its copy arrives if it leaves only counts there
        (``nic.silent_receiver``), else None."""
        self.outputs = outputs
        self.ledger = ledger
        self.version = STATE_VERSION.value
        senders: list[Port] = []
        receivers: list[Port] = []
        loud: list[Port] = []
        mtu = _NO_LIMIT
        for out, to in zip(outputs, silent):
            if to is None:
                loud.append(out)
                continue
            senders.append(out)
            receivers.append(to)
            mtu = min(mtu, to.mtu)
            out.tally.ledger = to.tally.ledger = ledger
        self.senders = tuple(senders)
        self.receivers = tuple(receivers)
        self.loud = tuple(loud)
        self.mtu = mtu  # the smallest receiver's: a larger payload takes the copy-by-copy path
        self.packets = 0
        self.bytes = 0

    def count(self, size: int) -> None:
        """One copy of a ``size``-byte frame to each silent receiver."""
        if not self.packets:
            self.ledger.holding.append(self)
            self.ledger.pending = True
        self.packets += 1
        self.bytes += size

    def settle(self) -> None:
        """Add the held counts to the senders' tx and the receivers' rx counters."""
        packets, size = self.packets, self.bytes
        self.packets = self.bytes = 0
        for out in self.senders:
            sent = out.tally
            sent.tx_packets += packets
            sent.tx_bytes += size
        for to in self.receivers:
            got = to.tally
            got.rx_packets += packets
            got.rx_bytes += size
