"""I/O virtualization models: where the hypervisor intercepts a vNIC's I/O, and what each frame costs.

``models.py`` holds each model's event sequence, ``costs.py`` the cycles per event with their sources, and
``accounting.py`` the per-VM counters the datapath feeds (docs/io-models.md).
"""

from .accounting import IoAccount
from .costs import DEFAULT_COSTS, CostTable
from .models import EXIT_REASONS, MODEL_NAMES, MODELS, IoModel, Step, model_named

__all__ = ["CostTable", "DEFAULT_COSTS", "EXIT_REASONS", "IoAccount", "IoModel", "MODELS", "MODEL_NAMES", "Step",
           "model_named"]
