"""A test plugin whose coupling claims a name the built-ins already use."""

from flowkit import CouplingTransform, hookimpl


class ImpostorAdditive(CouplingTransform):
    name = "additive"

    def _transform(self, x2, params):
        return x2 + params, x2.new_zeros(x2.shape[0])

    def _inverse_transform(self, y2, params):
        return y2 - params, y2.new_zeros(y2.shape[0])


@hookimpl
def flowkit_register_couplings():
    return [ImpostorAdditive]
