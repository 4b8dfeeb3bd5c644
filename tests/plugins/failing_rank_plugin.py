"""A plugin for the distributed tests: a coupling law that fails in one process mid-training.

``--coupling fail-on-rank`` is the additive law, except that in the process whose ``RANK``
equals ``FLOWKIT_TEST_FAIL_RANK`` its ``after``-th training-mode call raises (or, with
``FLOWKIT_TEST_FAIL_HOW=hang``, sleeps for an hour): the other processes are then left waiting
for it inside a collective, which is the case the launcher and the process-group timeout must
end. Load with ``flowkit -p tests.plugins.failing_rank_plugin``.
"""

from __future__ import annotations

import os
import time

from flowkit import CouplingTransform, hookimpl

#: Environment variable naming the rank that fails.
FAIL_RANK_ENV = "FLOWKIT_TEST_FAIL_RANK"
#: ``raise`` (default) or ``hang``.
FAIL_HOW_ENV = "FLOWKIT_TEST_FAIL_HOW"


class InjectedFailure(RuntimeError):
    """The error this plugin raises on purpose."""


class FailOnRankCoupling(CouplingTransform):
    """Additive coupling (NICE eq. 3) that raises in one chosen process after ``after`` calls."""

    name = "fail-on-rank"

    def __init__(self, features: int, *, after: int = 5, **kwargs) -> None:
        super().__init__(features, **kwargs)
        self.after, self.calls = after, 0

    def _transform(self, x2, params):
        if self.training and os.environ.get("RANK") == os.environ.get(FAIL_RANK_ENV, "-"):
            self.calls += 1
            if self.calls >= self.after:
                if os.environ.get(FAIL_HOW_ENV) == "hang":
                    time.sleep(3600)
                raise InjectedFailure(f"injected failure in rank {os.environ['RANK']}")
        return x2 + params, x2.new_zeros(x2.shape[0])

    def _inverse_transform(self, y2, params):
        return y2 - params, y2.new_zeros(y2.shape[0])


@hookimpl
def flowkit_register_couplings():
    return [FailOnRankCoupling]
