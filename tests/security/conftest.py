"""The security suite (issue 7): attacks on every boundary, run by `make test` in about a minute.

`THOTIS_TEST_FULL=1` (`make test-full`) runs the longer variants: more fuzzing examples per
operation, more concurrent requests.
"""

from __future__ import annotations

import os

FULL = os.environ.get("THOTIS_TEST_FULL") == "1"

from tests.adapter.conftest import simulator  # noqa: E402, F401  (the Cal.com simulator, pinned to NOW)
