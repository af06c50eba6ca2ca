"""``vswitch live``: the emulated network against the wall clock, with real stations on it (docs/live.md).

The core stays sans-IO: ``pacer`` runs the engine up to the wall clock and hands it the frames real devices sent,
at their arrival; ``stations`` carries frames between a NIC and a real device (an AF_PACKET socket); ``devices``
creates the network namespaces, veths and TAPs (and checks an attached interface exists), remembers them in a
state file, and removes them (``live-cleanup`` removes what a killed run left); ``command`` is the CLI;
``bench`` is ``vswitch bench --live``.
"""
