"""Capture files: the pcap and pcapng writers the captures use (``writer``) and the reader replays use (``reader``).
Imports only ``core``."""
