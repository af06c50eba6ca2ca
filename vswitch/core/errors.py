"""The error hierarchy: one root, a few leaves.

Bad *traffic* is never an exception (it is a counted drop); these are for bad *input*:
a malformed topology file, an impossible API call, an invalid value. Every error vswitch raises on purpose is
one of the leaves below (or a subclass of one: ``TopologyFileError``, ``CaptureFileError``, kernel-check's own),
never the root itself and never Python's bare ``TypeError``/``ValueError``/``OSError``, in both builds (a wrong
type at an entry point is checked by ``checks.py`` before compiled code can reject it its own way).
"""


class VSwitchError(Exception):
    """Root of every error vswitch raises on purpose: catch it to catch them all."""


class AddressError(VSwitchError, ValueError):
    """An invalid MAC address or other address value: text that is not a MAC, a unicast address given as a
    multicast group, an unknown vendor prefix, an IPv4 interface that does not parse."""


class TopologyError(VSwitchError):
    """A network or topology description that cannot be built: an unknown or duplicate name, a setting of the
    wrong type or out of range, whether from a file or from a call that builds or changes the network."""


class ScenarioError(VSwitchError):
    """Traffic or a run that cannot be carried out: a scenario action, a frame that is neither bytes nor a Scapy
    packet with its Ethernet header, a time that is not integer nanoseconds or is already past, a session's field
    of the wrong type, an unknown bench workload."""


class CaptureError(VSwitchError):
    """A capture file that cannot be written or read: a name outside the capture folder, two points writing one
    file, an unknown direction, a time the format cannot hold, a closed or unreadable file."""


class OutputFolderError(CaptureError):
    """The folder captures go to cannot be made or used (``--out`` names another)."""


def error_lines(error: Exception) -> list[str]:
    """What a command prints for a user error: ``vswitch: `` then each line of its message, one problem a line.

    A located problem keeps its place: ``vswitch: FILE:LINE:COLUMN: FIELD: MESSAGE``."""
    return [f"vswitch: {line}" for line in str(error).splitlines() if line.strip()] or [f"vswitch: {error!r}"]
