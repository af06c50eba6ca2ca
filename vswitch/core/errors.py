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
