"""A flow: a transform (data -> noise) plus a prior on the noise (NICE section 3)."""

from __future__ import annotations

from torch import Tensor

from flowkit._nflows import flows_base
from flowkit.priors import Prior, check_count, check_temperature


class Flow(flows_base.Flow):
    """``log p(x) = log p_H(f(x)) + log|det df/dx|``; sampling is ``f^-1(h)``, ``h ~ p_H``.

    An ``nflows.flows.base.Flow``: it works wherever nflows expects one. Adds temperature
    sampling and the NICE vocabulary: :meth:`encode` (``f``) and :meth:`decode` (``f^-1``).
    """

    def __init__(self, transform, prior: Prior) -> None:
        super().__init__(transform, prior)

    @property
    def transform(self):
        return self._transform

    @property
    def prior(self):
        return self._distribution

    def _log_prob(self, inputs: Tensor, context: Tensor | None) -> Tensor:
        noise, logabsdet = self._transform(inputs, context=context)
        return self._distribution.log_prob(noise) + logabsdet

    def sample(
        self,
        num_samples: int,
        context: Tensor | None = None,
        batch_size: int | None = None,
        temperature: float = 1.0,
    ) -> Tensor:
        """Draw samples; ``temperature`` multiplies the prior's standard deviation."""
        num_samples = check_count(num_samples)
        temperature = check_temperature(temperature)
        noise = self._distribution.sample(
            num_samples, batch_size=batch_size, temperature=temperature
        )
        samples, _ = self._transform.inverse(noise, context=context)
        return samples

    def encode(self, inputs: Tensor, context: Tensor | None = None) -> Tensor:
        """``h = f(x)``, the latent code."""
        return self._transform(inputs, context=context)[0]

    def decode(self, noise: Tensor, context: Tensor | None = None) -> Tensor:
        """``x = f^-1(h)``."""
        return self._transform.inverse(noise, context=context)[0]


__all__ = ["Flow"]
