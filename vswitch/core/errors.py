"""The error hierarchy: one root, a few leaves.

Bad *traffic* is never an exception (it is a counted drop); these are for bad *input*:
a malformed topology file, an impossible API call, an invalid value.
"""


class VSwitchError(Exception):
    """Root of every error vswitch raises on purpose."""


class AddressError(VSwitchError, ValueError):
    """An invalid MAC address or other address value."""


class TopologyError(VSwitchError):
    """A network or topology description that cannot be built."""


class ScenarioError(VSwitchError):
    """A scenario action that cannot be carried out."""


class OutputFolderError(VSwitchError):
    """The folder captures go to cannot be made or used (``--out`` names another)."""


def error_lines(error: Exception) -> list[str]:
    """What a command prints for a user error: ``vswitch: `` then each line of its message, one problem a line.

    A located problem keeps its place: ``vswitch: FILE:LINE:COLUMN: FIELD: MESSAGE``."""
    return [f"vswitch: {line}" for line in str(error).splitlines() if line.strip()] or [f"vswitch: {error!r}"]
