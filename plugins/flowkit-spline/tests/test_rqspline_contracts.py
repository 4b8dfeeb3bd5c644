"""Every component flowkit-spline registers passes flowkit's contract kit: one line."""

from flowkit.testing.pytest_plugin import contract_test

test_contracts = contract_test("flowkit_spline.plugin")
