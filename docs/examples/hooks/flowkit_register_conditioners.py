"""A flat conditioner: one tanh hidden layer plus a linear skip from the inputs."""

import torch
from torch import nn

from flowkit import Conditioner, hookimpl, with_context


class SkipTanhConditioner(Conditioner):
    name = "skip_tanh"
    layer = "flat"  # for flat couplings: [B, in_features] -> [B, out_features]
    contract_examples = [{"hidden": 8}, {"hidden": 8, "skip": False}]

    def __init__(
        self,
        in_features,
        out_features,
        *,
        hidden=64,
        skip=True,
        context_features=0,
        zero_init=True,
    ):
        super().__init__()
        self.context_features = context_features
        width = in_features + context_features
        self.hidden = nn.Linear(width, hidden)
        self.out = nn.Linear(hidden, out_features)
        self.skip = nn.Linear(width, out_features, bias=False) if skip else None
        if zero_init:  # zero outputs: a law that is the identity at zero starts as one
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)
            if self.skip is not None:
                nn.init.zeros_(self.skip.weight)

    def forward(self, inputs, context=None):
        x = with_context(inputs, context, self.context_features)  # checks the context's shape
        out = self.out(torch.tanh(self.hidden(x)))
        return out if self.skip is None else out + self.skip(x)


@hookimpl
def flowkit_register_conditioners():
    return [SkipTanhConditioner]
