"""Permutations and learned linear maps that mix dimensions between coupling layers.

NICE alternates which half of the inputs conditions the coupling layers (section 3.4); RealNVP
and Glow instead put a permutation, or a learned invertible linear map, between them:

- ``reverse``: reverses the order of the dimensions; ``log|det| = 0``;
- ``random``: a seeded random permutation; ``log|det| = 0``;
- ``lu``: a learned ``W = P L U`` (Glow's invertible 1x1 convolution on a vector), with
  ``log|det W| = sum log|diag U|``.

The fixed permutations are applied with ``index_select`` on index buffers, so they follow
``.to(device)`` and a ``state_dict`` restores them exactly.

References: Dinh, Sohl-Dickstein, Bengio. Density estimation using Real NVP (2016),
https://arxiv.org/abs/1605.08803; Kingma, Dhariwal. Glow (2018), https://arxiv.org/abs/1807.03039
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from flowkit import Transform, hookimpl


def _resolve_seed(seed: int | None) -> int:
    """``seed``, or one drawn from torch's global generator (so ``torch.manual_seed`` decides)."""
    if seed is None:
        return int(torch.randint(0, 2**31 - 1, ()).item())
    return int(seed)


class _IndexPermutation(Transform):
    """Base of the fixed permutations: ``y = x[:, permutation]``, ``log|det| = 0``."""

    def _set_permutation(self, permutation: Tensor) -> None:
        self.register_buffer("permutation", permutation)
        self.register_buffer("inverse_permutation", torch.argsort(permutation))

    def _permute(self, inputs: Tensor, index: Tensor) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        return inputs.index_select(1, index), inputs.new_zeros(inputs.shape[0])

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._permute(inputs, self.permutation)

    def inverse(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._permute(inputs, self.inverse_permutation)


class ReversePermutation(_IndexPermutation):
    """Reverses the order of the dimensions (``seed`` is accepted and ignored)."""

    name = "reverse"

    def __init__(self, features: int, *, seed: int | None = None) -> None:
        super().__init__(features)
        self._set_permutation(torch.arange(self.features - 1, -1, -1))


class RandomPermutation(_IndexPermutation):
    """A random permutation drawn once from ``seed`` and kept in a buffer.

    :param seed: seed of the permutation; ``None`` draws it from torch's global generator. A
        ``state_dict`` holds the permutation itself, so loading it restores the exact
        permutation whatever a fresh instance drew.
    """

    name = "random"

    def __init__(self, features: int, *, seed: int | None = None) -> None:
        super().__init__(features)
        generator = torch.Generator().manual_seed(_resolve_seed(seed))
        self._set_permutation(torch.randperm(self.features, generator=generator))


def _floats(array: np.ndarray) -> Tensor:
    return torch.as_tensor(array, dtype=torch.get_default_dtype())


def _random_orthogonal(features: int, seed: int) -> np.ndarray:
    """A Haar-random orthogonal matrix (QR of a Gaussian matrix, signs fixed by diag R)."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((features, features)))
    return q * np.sign(np.diag(r))


class LULinear(Transform):
    """A learned invertible linear map ``y = W x + b`` with ``W = P L U`` (Glow, section 3.2).

    ``P`` is a fixed permutation (a buffer), ``L`` unit lower triangular, ``U`` upper triangular
    with diagonal ``sign * exp(log_scale)`` (``sign`` a buffer), so ``W`` is invertible by
    construction and ``log|det W| = sum log_scale``. Starts at a seeded random orthogonal matrix,
    factorised with ``scipy.linalg.lu``.

    The factors are applied one after the other (``U``, then ``L``, then ``P``), which costs
    ``O(B D^2)`` per call; ``W`` itself is never formed. The inverse solves the two triangular
    systems with ``torch.linalg.solve_triangular``.

    :param seed: seed of the initial orthogonal matrix (``None``: drawn from torch's generator).
    :param bias: learn a bias ``b`` too.
    """

    name = "lu"
    contract_examples: ClassVar[list[dict[str, Any]]] = [{}, {"bias": False, "seed": 3}]

    def __init__(self, features: int, *, seed: int | None = None, bias: bool = True) -> None:
        super().__init__(features)
        d = self.features
        import scipy.linalg  # half a second to import: only when an LU layer is built

        p, lower, upper = scipy.linalg.lu(_random_orthogonal(d, _resolve_seed(seed)))
        diagonal = np.diag(upper)
        # W = P L U, so (x W^T)_i = (x U^T L^T)_{perm[i]}, perm[i] = the column of row i's 1 in P.
        self.register_buffer("permutation", torch.from_numpy(p.argmax(axis=1)))
        self.register_buffer("inverse_permutation", torch.argsort(self.permutation))
        self.register_buffer("sign", _floats(np.sign(diagonal)))
        self.register_buffer("lower_mask", torch.tril(torch.ones(d, d), diagonal=-1))
        self.register_buffer("upper_mask", torch.triu(torch.ones(d, d), diagonal=1))
        self.register_buffer("eye", torch.eye(d))
        self.lower = nn.Parameter(_floats(np.tril(lower, -1)))
        self.upper = nn.Parameter(_floats(np.triu(upper, 1)))
        self.log_scale = nn.Parameter(_floats(np.log(np.abs(diagonal))))
        self.bias = nn.Parameter(torch.zeros(d)) if bias else None

    def lower_matrix(self) -> Tensor:
        """``L``: unit lower triangular."""
        return self.lower * self.lower_mask + self.eye

    def upper_matrix(self) -> Tensor:
        """``U``: upper triangular with diagonal ``sign * exp(log_scale)``."""
        return self.upper * self.upper_mask + torch.diag(self.sign * torch.exp(self.log_scale))

    def weight(self) -> Tensor:
        """The assembled ``W = P L U`` (for inspection and tests; ``O(D^3)``)."""
        lu = self.lower_matrix() @ self.upper_matrix()
        return lu.index_select(0, self.permutation)

    def _logabsdet(self, inputs: Tensor, sign: float) -> Tensor:
        return (sign * self.log_scale.sum()).expand(inputs.shape[0]).clone()

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        outputs = inputs @ self.upper_matrix().T @ self.lower_matrix().T
        outputs = outputs.index_select(1, self.permutation)
        if self.bias is not None:
            outputs = outputs + self.bias
        return outputs, self._logabsdet(inputs, 1.0)

    def inverse(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        if self.bias is not None:
            inputs = inputs - self.bias
        # Rows: x U^T L^T = y P (P^-1 applied by the inverse index), solved right to left.
        permuted = inputs.index_select(1, self.inverse_permutation)
        lower_solved = torch.linalg.solve_triangular(
            self.lower_matrix().T, permuted, upper=True, left=False, unitriangular=True
        )
        outputs = torch.linalg.solve_triangular(
            self.upper_matrix().T, lower_solved, upper=False, left=False
        )
        return outputs, self._logabsdet(inputs, -1.0)

    def extra_repr(self) -> str:
        return f"features={self.features}, bias={self.bias is not None}"


@hookimpl
def flowkit_register_permutations():
    return [ReversePermutation, RandomPermutation, LULinear]
