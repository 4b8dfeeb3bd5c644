"""A plugin whose module fails to import (a missing dependency)."""

import fk_a_dependency_that_is_not_installed  # noqa: F401
