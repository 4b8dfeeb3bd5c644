"""A learned diagonal scaling h = exp(s) * x (NICE section 3.3) started at target_std."""

import math

import torch

from flowkit import Transform, hookimpl


class FixedStartScaling(Transform):
    name = "start_scale"
    contract_examples = [{}, {"target_std": 2.0}]

    def __init__(self, features, *, target_std=1.0):
        super().__init__(features)
        start = torch.full((self.features,), math.log(target_std))
        self.log_scale = torch.nn.Parameter(start)

    def forward(self, inputs, context=None):
        return inputs * self.log_scale.exp(), self.log_scale.sum().expand(inputs.shape[0])

    def inverse(self, inputs, context=None):
        return inputs * (-self.log_scale).exp(), -self.log_scale.sum().expand(inputs.shape[0])


@hookimpl
def flowkit_register_scalings():
    return [FixedStartScaling]
