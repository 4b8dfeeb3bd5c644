"""Rebuild a run's model from its file, checking the file's tensors before anything is allocated.

The model is first built on PyTorch's ``meta`` device (shapes only, no memory): a recorded
``event_shape`` or layer count that does not match the stored weights is then one
:class:`flowkit.io.schema.DamagedRunFile` line instead of an attempt to allocate the model the
damaged configuration describes. Only then is the real model built.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from flowkit.errors import FlowkitWarning, UnknownComponentError
from flowkit.io.schema import DamagedRunFile, check_tensors, damaged
from flowkit.run.config import RunConfig, build_flow

if TYPE_CHECKING:  # pragma: no cover
    from flowkit.flows import Flow
    from flowkit.registry import Registry


def rebuild_flow(
    registry: Registry,
    config: RunConfig,
    features: int | Sequence[int],
    path: str | Path,
    tensors: Mapping[str, Mapping[str, Tensor]],
) -> Flow:
    """The freshly initialised model of ``config``, after checking each of ``tensors`` (a
    where-name -> state dict mapping, e.g. ``{"model": record.model}``) against its shapes.

    :class:`UnknownComponentError` (a plugin not installed here) passes through; any other
    failure to build is a damaged file.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FlowkitWarning)  # e.g. "fewer than 3 layers" again
        try:
            with torch.device("meta"):
                shapes = build_flow(registry, config, features).state_dict()
        except UnknownComponentError:
            raise
        except Exception as err:  # a hand-edited option of the wrong type, value or name
            raise DamagedRunFile(
                f"its configuration does not build a model ({damaged(path, err).what})", path
            ) from None
        try:
            for where, values in tensors.items():
                check_tensors(values, shapes, where)
        except DamagedRunFile as err:
            raise err.at(path) from None
        return build_flow(registry, config, features)


__all__ = ["rebuild_flow"]
