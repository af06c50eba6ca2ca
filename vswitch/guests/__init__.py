"""Guest stacks and the traffic they make: frames built with Scapy at the edge (``traffic``), the sans-IO IPv4
stack with ARP, ICMP echo and UDP (``stack``, ``arp``, ``inet``), the sessions that drive it, and the stream,
replay and migration engines of the scenario actions."""
