"""The network: ``Network`` builds and names the devices, the ``Datapath`` carries frames between them on the
engine's clock and applies their decisions, and capture taps write what crosses each named point."""
