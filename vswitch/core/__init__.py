"""Value types and the clock, at the bottom of every import: errors, durations and rates, MAC addresses, frame
helpers on ``bytes``, drop and forward reasons, the event engine and the hop trace. Imports nothing else of vswitch."""
