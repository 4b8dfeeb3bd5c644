"""The nflows bridge: nflows' own transforms as flowkit components (kind ``transform``).

Each class here is a thin adapter: a :class:`flowkit.Transform` that takes ``features`` (plus
options with defaults), builds one nflows transform as ``self.inner`` and forwards ``forward`` /
``inverse`` to it, so the registry, pipelines and the contract kit treat it like any flowkit
component. Registry names are ``nflows.<name>``.

Only transforms that pass flowkit's contract kit on torch 2.x are wrapped; :data:`EXCLUDED`
lists the others and why (see ``docs/nflows-bridge.md``). nflows' couplings call their
conditioner as ``net(inputs, context)``, which nflows' own MLP does not accept, so they get
:class:`ContextMLP`: flowkit's MLP with an optional context appended to its input.

References: Durkan, Bekasov, Murray, Papamakarios. nflows (2020),
https://github.com/bayesiains/nflows (release 0.14).
"""

from __future__ import annotations

from flowkit import hookimpl

from .excluded import EXCLUDED

#: Registry names -> adapter classes are known only after nflows is imported; that happens in
#: the hook, not when the plugin is loaded, so ``flowkit --help`` never imports nflows.


def wrapped() -> list[type]:
    """Every adapter class, in registry order (imports nflows)."""
    from . import autoregressive, coupling, linear

    return [
        linear.NflowsReversePermutation,
        linear.NflowsRandomPermutation,
        linear.NflowsHouseholder,
        linear.NflowsSVDLinear,
        linear.NflowsActNorm,
        coupling.NflowsAdditiveCoupling,
        coupling.NflowsAffineCoupling,
        coupling.NflowsRQCoupling,
        coupling.NflowsQuadraticCoupling,
        coupling.NflowsCubicCoupling,
        autoregressive.NflowsMAF,
        autoregressive.NflowsRQAutoregressive,
        autoregressive.NflowsQuadraticAutoregressive,
        linear.NflowsRQCDF,
        linear.NflowsQuadraticCDF,
        linear.NflowsCubicCDF,
        linear.NflowsLogTanh,
    ]


@hookimpl
def flowkit_register_transforms() -> list[type]:
    return wrapped()


__all__ = ["EXCLUDED", "wrapped"]
