"""Any other transform: negate every coordinate (its own inverse)."""

from flowkit import Transform, hookimpl


class Negation(Transform):
    name = "negate"

    def forward(self, inputs, context=None):
        return -inputs, inputs.new_zeros(inputs.shape[0])

    inverse = forward


@hookimpl
def flowkit_register_transforms():
    return [Negation]
