"""A fixed mixing layer: roll the features by seed + shift places (indices in buffers)."""

import torch

from flowkit import Transform, hookimpl


class RollPermutation(Transform):
    name = "roll"
    contract_examples = [{}, {"seed": 1, "shift": 2}]

    def __init__(self, features, seed=0, *, shift=1):
        super().__init__(features)
        order = torch.roll(torch.arange(self.features), seed + shift)
        self.register_buffer("order", order)
        self.register_buffer("inverse_order", torch.argsort(order))

    def forward(self, inputs, context=None):
        return inputs[:, self.order], inputs.new_zeros(inputs.shape[0])

    def inverse(self, inputs, context=None):
        return inputs[:, self.inverse_order], inputs.new_zeros(inputs.shape[0])


@hookimpl
def flowkit_register_permutations():
    return [RollPermutation]
