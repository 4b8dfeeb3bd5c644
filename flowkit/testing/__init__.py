"""The contract test kit: prove that a flowkit component is correct.

Plugin authors call these from their own test suites::

    from flowkit.testing import check_transform
    def test_my_coupling():
        check_transform(lambda: MyCoupling(6, hidden=16, depth=1), features=6)

or check everything their plugin registers with :func:`component_checks`. flowkit's own suite
runs the same checks over every registered component.
"""

from flowkit.testing.components import (
    CHECK_FEATURES,
    ComponentCheck,
    check_component,
    checks_for,
    component_checks,
)
from flowkit.testing.dataset_checks import DATASET_CHECKS, check_dataset
from flowkit.testing.prior_checks import PRIOR_CHECKS, check_prior
from flowkit.testing.transform_checks import (
    TRANSFORM_CHECKS,
    ContractError,
    check_batch_independence,
    check_device_dtype,
    check_gradients,
    check_invertibility,
    check_logabsdet,
    check_shapes,
    check_state_dict_roundtrip,
    check_transform,
)

__all__ = [
    "CHECK_FEATURES",
    "DATASET_CHECKS",
    "PRIOR_CHECKS",
    "TRANSFORM_CHECKS",
    "ComponentCheck",
    "ContractError",
    "check_batch_independence",
    "check_component",
    "check_dataset",
    "check_device_dtype",
    "check_gradients",
    "check_invertibility",
    "check_logabsdet",
    "check_prior",
    "check_shapes",
    "check_state_dict_roundtrip",
    "check_transform",
    "checks_for",
    "component_checks",
]
