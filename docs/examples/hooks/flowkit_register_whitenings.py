"""Subtract the training mean, fitted on data before training (log-determinant 0)."""

import torch

from flowkit import Transform, hookimpl


class Centering(Transform):
    name = "center"

    def __init__(self, features):
        super().__init__(features)
        self.enable_data_initialization()
        self.register_buffer("mean", torch.zeros(self.features))

    def _initialize(self, inputs):
        self.mean.copy_(inputs.mean(0))

    def forward(self, inputs, context=None):
        return inputs - self.mean, inputs.new_zeros(inputs.shape[0])

    def inverse(self, inputs, context=None):
        return inputs + self.mean, inputs.new_zeros(inputs.shape[0])


@hookimpl
def flowkit_register_whitenings():
    return [Centering]
