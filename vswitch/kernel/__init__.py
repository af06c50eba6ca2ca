"""``vswitch kernel-check``: the same topology rebuilt with Linux bridges and macvlans in network namespaces,
replayed in real time, and compared with the vswitch run. Needs root."""
