"""Priors: the factorised base distributions ``p_H`` of NICE (section 3.1).

A :class:`Prior` is an ``nflows.distributions.base.Distribution``, so it plugs into nflows'
``Flow`` too. On top of nflows it validates inputs, accepts numpy integers, and samples at a
*temperature*: a standard-deviation multiplier (samples look best at 0.75-0.8 on MNIST).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor

from flowkit._nflows import distributions_base
from flowkit.errors import ConfigurationError, DataError
from flowkit.transforms import check_features


def check_count(value: Any, what: str = "number of samples") -> int:
    """A positive integer, numpy integers included."""
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = -1
    if count != value or count < 1:
        raise ConfigurationError(f"{what} must be a positive integer, got {value!r}")
    return count


def check_temperature(temperature: float) -> float:
    if not (float(temperature) > 0.0 and math.isfinite(float(temperature))):
        raise ConfigurationError(f"temperature must be > 0 and finite, got {temperature!r}")
    return float(temperature)


class Prior(distributions_base.Distribution):
    """Base class of priors over ``R^features``.

    Subclasses implement ``_log_prob(inputs)`` (shape [batch]) and ``_sample_standard(n)``
    (temperature 1). ``sample(n, temperature=T)`` returns ``T`` times a standard sample, which
    scales the standard deviation of a zero-centred prior by ``T``.
    """

    name: ClassVar[str] = ""
    contract_examples: ClassVar[list[dict[str, Any]]] = [{}]
    #: Standard deviation of one coordinate at temperature 1 (used to initialise scalings).
    stddev: ClassVar[float] = 1.0

    def __init__(self, features: int) -> None:
        super().__init__()
        self.features = check_features(features)
        # Follows .to(device/dtype) so samples are created where the model lives.
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    def log_prob(self, inputs: Tensor, context: Tensor | None = None) -> Tensor:
        inputs = torch.as_tensor(inputs)
        if inputs.dim() != 2 or inputs.shape[1] != self.features:
            raise DataError(
                f"{type(self).__name__} expects inputs of shape [batch, {self.features}], "
                f"got {list(inputs.shape)}"
            )
        return self._log_prob(inputs, context)

    def sample(
        self,
        num_samples: int,
        context: Tensor | None = None,
        batch_size: int | None = None,
        temperature: float = 1.0,
    ) -> Tensor:
        num_samples = check_count(num_samples)
        temperature = check_temperature(temperature)
        if batch_size is None:
            batch_size = num_samples
        batch_size = check_count(batch_size, "batch size")
        chunks = [
            self._sample_standard(min(batch_size, num_samples - start))
            for start in range(0, num_samples, batch_size)
        ]
        samples = torch.cat(chunks) if len(chunks) > 1 else chunks[0]
        return samples if temperature == 1.0 else samples * temperature

    def _sample(self, num_samples: int, context: Tensor | None) -> Tensor:
        # nflows' Flow calls this with no temperature.
        return self._sample_standard(num_samples)

    def _sample_standard(self, num_samples: int) -> Tensor:
        raise NotImplementedError

    def scipy_reference(self) -> Any:
        """A SciPy frozen distribution of one coordinate (coordinates are independent), or None."""
        return None

    def extra_repr(self) -> str:
        return f"features={self.features}"


__all__ = ["Prior", "check_count", "check_temperature"]
