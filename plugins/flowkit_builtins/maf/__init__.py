"""Masked autoregressive flows as a flowkit plugin (the ``maf`` entry point).

Registers the ``made`` conditioner (layer type ``autoregressive``), the ``maf_layer``
transform (one autoregressive layer, any coupling law) and the ``maf`` pipeline.
"""

from __future__ import annotations

from flowkit import hookimpl
from flowkit_builtins.maf.layer import MaskedAutoregressiveLayer
from flowkit_builtins.maf.made import MADE
from flowkit_builtins.maf.pipeline import MafPipeline


@hookimpl
def flowkit_register_conditioners() -> list[type]:
    return [MADE]


@hookimpl
def flowkit_register_transforms() -> list[type]:
    return [MaskedAutoregressiveLayer]


@hookimpl
def flowkit_register_pipelines() -> list[type]:
    return [MafPipeline]
