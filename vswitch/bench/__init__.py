"""``vswitch bench``: standard workloads through the product path (``runner``) and a naive Scapy baseline (``naive``)."""
