"""Contract checks for priors: density against SciPy, sample shapes, temperature, state, dtype."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import numpy as np
import torch

from flowkit.errors import ConfigurationError
from flowkit.testing.transform_checks import ContractError

#: A zero-argument callable that returns a new instance of the prior under test.
Factory = Callable[[], Any]


def _points(features: int, rows: int = 7) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return 2.0 * torch.randn(rows, features, generator=gen, dtype=torch.float64)


def check_prior_log_prob(make: Factory, features: int) -> None:
    """log_prob has shape [batch], is finite, and matches SciPy's density when one is given."""
    prior = make().double()
    x = _points(features)
    log_prob = prior.log_prob(x)
    if log_prob.shape != (len(x),):
        raise ContractError(f"log_prob has shape {list(log_prob.shape)}, want [{len(x)}]")
    if not torch.isfinite(log_prob).all():
        raise ContractError("log_prob is not finite on ordinary inputs")
    reference = prior.scipy_reference()
    if reference is not None:
        expected = reference.logpdf(x.numpy()).sum(axis=1)
        error = np.abs(log_prob.detach().numpy() - expected).max()
        if not error <= 1e-8 * max(1.0, np.abs(expected).max()):
            raise ContractError(f"log_prob differs from SciPy's logpdf by {error:.3g}")


def check_prior_sample(make: Factory, features: int, num_samples: int = 20000) -> None:
    """Samples have shape [n, features]; their moments match SciPy's; np.int64 counts work."""
    prior = make().double()
    torch.manual_seed(0)
    samples = prior.sample(num_samples)
    if samples.shape != (num_samples, features):
        raise ContractError(f"sample({num_samples}) has shape {list(samples.shape)}")
    if prior.sample(np.int64(3)).shape != (3, features):
        raise ContractError("sample() refuses or mishandles a numpy integer count")
    reference = prior.scipy_reference()
    if reference is not None:
        std = float(reference.std())
        mean_error = (samples.mean(0) - float(reference.mean())).abs().max().item()
        std_error = (samples.std(0) / std - 1).abs().max().item()
        if mean_error > 5 * std / num_samples**0.5 or std_error > 0.05:
            raise ContractError(
                f"sample moments are off SciPy's: mean error {mean_error:.3g}, "
                f"relative std error {std_error:.3g}"
            )


def check_prior_temperature(make: Factory, features: int, num_samples: int = 20000) -> None:
    """``temperature=T`` multiplies the sample standard deviation by T; T <= 0 is refused."""
    prior = make().double()
    torch.manual_seed(1)
    base = prior.sample(num_samples).std(0)
    torch.manual_seed(1)
    cooled = prior.sample(num_samples, temperature=0.5).std(0)
    ratio = (cooled / base).mean().item()
    if abs(ratio - 0.5) > 0.02:
        raise ContractError(f"temperature 0.5 scaled the std by {ratio:.3f}, want 0.5")
    for bad in (0.0, -1.0):
        try:
            prior.sample(3, temperature=bad)
        except ConfigurationError:
            continue
        raise ContractError(f"sample(temperature={bad}) did not raise ConfigurationError")


def check_prior_dtype_state(make: Factory, features: int) -> None:
    """float32/float64 follow the module; a state_dict round trip keeps log_prob."""
    for dtype in (torch.float32, torch.float64):
        prior = make().to(dtype)
        if prior.sample(4).dtype != dtype:
            raise ContractError(f"samples of a {dtype} prior are {prior.sample(4).dtype}")
        if prior.log_prob(_points(features).to(dtype)).dtype != dtype:
            raise ContractError(f"log_prob of a {dtype} prior changes dtype")
    a, b = make().double(), make().double()
    with torch.no_grad():
        for p in a.parameters():
            p.add_(0.1)
    b.load_state_dict(a.state_dict())
    x = _points(features)
    if not torch.allclose(a.log_prob(x), b.log_prob(x), atol=1e-12, rtol=0):
        raise ContractError("log_prob changes after a state_dict round trip")


PRIOR_CHECKS: dict[str, Callable[..., None]] = {
    "log_prob": check_prior_log_prob,
    "sample": check_prior_sample,
    "temperature": check_prior_temperature,
    "dtype_state": check_prior_dtype_state,
}


def iter_prior_checks(
    make: Factory, features: int = 4
) -> Iterator[tuple[str, Callable[[], None]]]:
    for name, check in PRIOR_CHECKS.items():
        yield name, partial(check, make, features)


def check_prior(make: Factory, features: int = 4) -> None:
    for name, check in iter_prior_checks(make, features):
        try:
            check()
        except ContractError as err:
            raise ContractError(f"[{name}] {err}") from None
