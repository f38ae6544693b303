"""The record of a dataset that a checkpoint keeps, so the same data can be read again anywhere.

The data module writes it: Lightning stores a data module's ``state_dict()`` in every checkpoint
under the module's class name, so ``ImageDataModule.state_dict()`` returns
``{"record": ImageDataset.record()}`` and it lands at ``checkpoint["ImageDataModule"]["record"]``.
Checkpoints written before that kept the same record at ``checkpoint["regae"]["data"]``;
checkpoints older than datasets have none (they are MNIST's, 1x28x28).
:func:`regae.data.load_recorded` reads the data a record names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: where Lightning puts ``ImageDataModule.state_dict()`` in a checkpoint (the class's ``__qualname__``)
DATAMODULE_KEY = "ImageDataModule"
RECORD_KEY = "record"
#: where checkpoints of regae 0.1.0 before the move kept it: checkpoint[LEGACY[0]][LEGACY[1]]
LEGACY = ("regae", "data")


def checkpoint_record(checkpoint: Mapping[str, Any]) -> dict[str, Any] | None:
    """The dataset record of a checkpoint dict, wherever its version put it; None if it has none."""
    state = checkpoint.get(DATAMODULE_KEY)
    if isinstance(state, Mapping) and isinstance(state.get(RECORD_KEY), Mapping):
        return dict(state[RECORD_KEY])
    legacy = checkpoint.get(LEGACY[0])
    if isinstance(legacy, Mapping) and isinstance(legacy.get(LEGACY[1]), Mapping):
        return dict(legacy[LEGACY[1]])
    return None
