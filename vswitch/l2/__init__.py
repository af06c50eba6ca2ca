"""The devices frames pass through, each deciding on ``bytes`` and returning a ``Decision``: ports and links, NICs and
vNICs with their SR-IOV controls, the physical adapter (Linux macvlan), the learning switch (Linux bridge) with its
forwarding table, VLANs, port security and storm guard, and the hypervisor that holds VMs. Imports only ``core``."""
