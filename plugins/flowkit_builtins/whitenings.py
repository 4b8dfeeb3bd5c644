"""Whitening layers: decorrelate and rescale the data as the first layer of the flow.

NICE whitens SVHN and CIFAR-10 exactly (ZCA) and TFD approximately (section 5.1, Appendix B).
Here whitening is a transform *inside* the flow, not preprocessing outside it: its log-det
counts, so log-likelihoods stay those of the original data.

- ``zca``: ``z = W (x - mu)``, ``W = V diag((lambda + eps)^-1/2) V^T`` (symmetric);
- ``pca``: ``z = diag((lambda + eps)^-1/2) V^T (x - mu)``, components by decreasing variance;
- ``learned``: Appendix B's approximate whitening ``z = L x + b``, ``L`` lower triangular,
  trained by maximum likelihood with the rest of the flow.

``lambda, V`` are the eigenvalues and eigenvectors of the covariance of the data given to
``initialize(x)``, computed in float64. ``zca`` and ``pca`` have
``log|det| = -1/2 sum log(lambda + eps)``, a constant. ``eps`` is relative to the mean
eigenvalue by default (``relative_eps=True``: the added variance is ``eps * mean(lambda)``, so the
regularisation does not depend on the data's units); ``relative_eps=False`` adds ``eps`` as is.

References: Dinh, Krueger, Bengio. NICE (2014), https://arxiv.org/abs/1410.8516
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from flowkit import ConfigurationError, DataError, Transform, hookimpl

INITS = ("data", "identity")
_CHUNK_ROWS = 8192


def _check_eps(eps: float) -> float:
    if not (math.isfinite(eps) and eps >= 0):
        raise ConfigurationError(f"eps must be a finite number >= 0, got {eps!r}")
    return float(eps)


def data_moments(inputs: Tensor, features: int, what: str) -> tuple[Tensor, Tensor]:
    """Mean and covariance (float64) of ``inputs``, refusing data that cannot whiten.

    A full-rank covariance needs more rows than features; with fewer, the null directions would
    be scaled by ``1/sqrt(eps)`` alone.
    """
    if inputs.dim() != 2 or inputs.shape[1] != features:
        raise DataError(
            f"{what} expects data of shape [rows, {features}], got {list(inputs.shape)}"
        )
    rows = inputs.shape[0]
    if rows <= features:
        raise DataError(
            f"{what} needs more rows than features to estimate a full-rank covariance: "
            f"got {rows} rows for {features} features"
        )
    if not torch.isfinite(inputs).all():
        raise DataError(f"{what} cannot be fitted on data containing NaN or inf")
    # Accumulated in float64 over chunks: a float64 copy of a large training set is not needed.
    chunks = inputs.split(_CHUNK_ROWS)
    mean = sum(chunk.double().sum(dim=0) for chunk in chunks) / rows
    covariance = torch.zeros(features, features, dtype=torch.float64, device=inputs.device)
    for chunk in chunks:
        centred = chunk.double() - mean
        covariance += centred.T @ centred
    return mean, covariance / (rows - 1)


class _EigenWhitening(Transform):
    """Shared fitting and application of ``z = W (x - mu)`` with a fixed ``W`` (buffers)."""

    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {},
        {"eps": 1e-3, "relative_eps": False},
    ]

    def __init__(self, features: int, *, eps: float = 1e-5, relative_eps: bool = True) -> None:
        super().__init__(features)
        self.eps, self.relative_eps = _check_eps(eps), bool(relative_eps)
        d = self.features
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("weight", torch.eye(d))
        self.register_buffer("inverse_weight", torch.eye(d))
        self.register_buffer("log_det", torch.zeros(()))
        self.register_buffer("eigenvalues", torch.ones(d))
        self.enable_data_initialization()

    def _initialize(self, inputs: Tensor) -> None:
        mean, covariance = data_moments(inputs, self.features, f"{self.name} whitening")
        eigenvalues, eigenvectors = torch.linalg.eigh(covariance)  # ascending
        eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.flip(1)  # by variance
        eigenvalues = eigenvalues.clamp_min(0.0)  # round-off can make tiny ones negative
        added = self.eps * eigenvalues.mean().item() if self.relative_eps else self.eps
        variances = eigenvalues + added
        if not variances.min() > 0:
            raise DataError(
                f"{self.name} whitening: the data covariance is singular and eps is 0; "
                "set eps > 0 or remove constant dimensions"
            )
        weight, inverse_weight = self._matrices(variances, eigenvectors)
        self.mean.copy_(mean)
        self.weight.copy_(weight)
        self.inverse_weight.copy_(inverse_weight)
        self.eigenvalues.copy_(eigenvalues)
        self.log_det.fill_(-0.5 * torch.log(variances).sum().item())

    def _matrices(self, variances: Tensor, eigenvectors: Tensor) -> tuple[Tensor, Tensor]:
        """``W`` and ``W^-1`` from the regularised variances and eigenvectors (float64)."""
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if self.needs_initialization:
            raise ConfigurationError(
                f"the {self.name} whitening is used before it was fitted: call "
                "initialize(training_data) on it (or on the flow's transform) first"
            )

    def _logabsdet(self, inputs: Tensor, sign: float) -> Tensor:
        return (sign * self.log_det).expand(inputs.shape[0]).clone()

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        self._check_fitted()
        return (inputs - self.mean) @ self.weight.T, self._logabsdet(inputs, 1.0)

    def inverse(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        self._check_fitted()
        return inputs @ self.inverse_weight.T + self.mean, self._logabsdet(inputs, -1.0)

    def extra_repr(self) -> str:
        return f"features={self.features}, eps={self.eps:g}, relative_eps={self.relative_eps}"


class ZCAWhitening(_EigenWhitening):
    """Exact ZCA whitening ``z = W (x - mu)``, ``W = V diag((lambda+eps)^-1/2) V^T``.

    The symmetric ``W`` is the whitening closest to the identity, so whitened images still look
    like images (NICE section 5.1, SVHN and CIFAR-10). Fitted by ``initialize(x)``.

    :param eps: variance added to every eigenvalue (see the module docstring).
    :param relative_eps: ``eps`` is relative to the mean eigenvalue (default) or absolute.
    """

    name = "zca"

    def _matrices(self, variances: Tensor, eigenvectors: Tensor) -> tuple[Tensor, Tensor]:
        weight = eigenvectors @ torch.diag(variances.rsqrt()) @ eigenvectors.T
        inverse_weight = eigenvectors @ torch.diag(variances.sqrt()) @ eigenvectors.T
        return weight, inverse_weight


class PCAWhitening(_EigenWhitening):
    """PCA whitening ``z = diag((lambda+eps)^-1/2) V^T (x - mu)``: decorrelated principal
    components with unit variance, largest-variance component first.

    Eigenvector signs are fixed (largest entry positive) so refitting gives the same map.

    :param eps: variance added to every eigenvalue (see the module docstring).
    :param relative_eps: ``eps`` is relative to the mean eigenvalue (default) or absolute.
    """

    name = "pca"

    def _matrices(self, variances: Tensor, eigenvectors: Tensor) -> tuple[Tensor, Tensor]:
        largest = eigenvectors.abs().argmax(dim=0, keepdim=True)
        eigenvectors = eigenvectors * torch.sign(eigenvectors.gather(0, largest))
        weight = variances.rsqrt()[:, None] * eigenvectors.T
        inverse_weight = eigenvectors * variances.sqrt()
        return weight, inverse_weight


class LearnedWhitening(Transform):
    """NICE Appendix B's approximate whitening ``z = L x + b``, ``L`` lower triangular.

    With a Gaussian prior this layer alone is a NICE model of a full-covariance Gaussian; inside a
    flow it is trained by maximum likelihood with everything else. ``L``'s diagonal is
    ``exp(d)``, so ``L`` is invertible throughout training and ``log|det| = sum d``. The inverse
    solves the triangular system with ``torch.linalg.solve_triangular``.

    :param init: ``data`` (default): ``initialize(x)`` sets ``L`` to the inverse Cholesky factor
        of the data covariance and ``b = -L mu``, an exact (Cholesky) whitening to start from;
        until then (and with ``identity``) the layer is the identity.
    :param eps: variance added to the covariance's diagonal before the Cholesky factorisation,
        relative to the mean variance when ``relative_eps`` (the default).
    """

    name = "learned"
    contract_examples: ClassVar[list[dict[str, Any]]] = [{}, {"init": "identity"}]

    def __init__(
        self, features: int, *, init: str = "data", eps: float = 1e-5, relative_eps: bool = True
    ) -> None:
        super().__init__(features)
        if init not in INITS:
            raise ConfigurationError(f"unknown init {init!r}; choose from {', '.join(INITS)}")
        self.init = init
        self.eps, self.relative_eps = _check_eps(eps), bool(relative_eps)
        d = self.features
        self.lower = nn.Parameter(torch.zeros(d, d))  # only the strictly lower part is used
        self.log_diagonal = nn.Parameter(torch.zeros(d))
        self.bias = nn.Parameter(torch.zeros(d))
        self.register_buffer("lower_mask", torch.tril(torch.ones(d, d), diagonal=-1))
        if init == "data":
            self.enable_data_initialization()

    def _initialize(self, inputs: Tensor) -> None:
        mean, covariance = data_moments(inputs, self.features, "learned whitening")
        variance = covariance.diagonal().mean().item()
        added = self.eps * variance if self.relative_eps else self.eps
        identity = torch.eye(self.features, dtype=covariance.dtype, device=covariance.device)
        cholesky, info = torch.linalg.cholesky_ex(covariance + added * identity)
        if info.item() != 0:
            raise DataError(
                "learned whitening: the data covariance is not positive definite; set eps > 0 "
                "or remove constant dimensions"
            )
        inverse = torch.linalg.solve_triangular(cholesky, identity, upper=False)
        self.lower.copy_(torch.tril(inverse, diagonal=-1))
        self.log_diagonal.copy_(torch.log(inverse.diagonal()))
        self.bias.copy_(-(inverse @ mean))

    def matrix(self) -> Tensor:
        """``L``: lower triangular with diagonal ``exp(d)``."""
        return self.lower * self.lower_mask + torch.diag(torch.exp(self.log_diagonal))

    def _logabsdet(self, inputs: Tensor, sign: float) -> Tensor:
        return (sign * self.log_diagonal.sum()).expand(inputs.shape[0]).clone()

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        return inputs @ self.matrix().T + self.bias, self._logabsdet(inputs, 1.0)

    def inverse(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        # Rows: x L^T = z - b.
        outputs = torch.linalg.solve_triangular(
            self.matrix().T, inputs - self.bias, upper=True, left=False
        )
        return outputs, self._logabsdet(inputs, -1.0)

    def extra_repr(self) -> str:
        return f"features={self.features}, init={self.init!r}"


@hookimpl
def flowkit_register_whitenings():
    return [ZCAWhitening, PCAWhitening, LearnedWhitening]
