"""nflows transforms the bridge does not wrap, and why."""

#: nflows 0.14 transforms that are *not* wrapped, and why (measured with flowkit.testing on
#: torch 2.13; tests/test_nflows_bridge.py re-checks the reasons that can be re-checked).
EXCLUDED: dict[str, str] = {
    "NaiveLinear": "its inverse and log-det call torch.solve, removed from torch (RuntimeError)",
    "LULinear": "its inverse uses the deprecated torch.triangular_solve (warns; due for removal); "
    "use flowkit's own `lu` permutation",
    "QRLinear": "its inverse uses the deprecated torch.triangular_solve",
    "OneByOneConvolution": "4-D image inputs only, and built on LULinear",
    "BatchNorm": "passes the kit in eval mode, but in training mode each example's output and "
    "density depend on the rest of the batch and the inverse raises InverseNotAvailable",
    "LeakyReLU": "fails the device/dtype check: its log-det is always a float32 CPU tensor",
    "Tanh, Sigmoid, Logit, CauchyCDF": "not bijections of R^D: InputOutsideDomain on "
    "ordinary inputs",
    "MaskedPiecewiseLinearAutoregressiveTransform, MaskedPiecewiseCubicAutoregressiveTransform": (
        "no tails option in 0.14: inputs must lie in [0, 1] (InputOutsideDomain)"
    ),
    "PiecewiseLinearCouplingTransform, PiecewiseLinearCDF": "fail the round-trip check: "
    "inverse(forward(x)) is off by 1e-6 to 1e-5 in float64 (with linear tails; without, inputs "
    "must lie in [0, 1])",
    "GatedLinearUnit": "needs a context to compute anything",
    "SqueezeTransform, MultiscaleCompositeTransform": "image/multi-scale plumbing, not a map of "
    "flat vectors",
    "IdentityTransform, PointwiseAffineTransform, AffineTransform": "pass the kit but have "
    "nothing to learn",
}
