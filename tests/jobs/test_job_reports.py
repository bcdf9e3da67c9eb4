"""A failing job is in the run log and in Sentry, tagged with its name, its error code and the feature."""

from __future__ import annotations

import httpx

from adapter.services import Services
from core.clock import FixedClock
from core.errors import DependencyUnavailable
from jobs.runlog import run_logged
from tests.adapter.helpers import ADMIN
from tests.adapter.test_monitoring import CapturingTransport, sentry  # noqa: F401  (the fixture)
from tests.jobs.conftest import NOW


class TestJobReports:
    async def test_a_failed_run_is_logged_reported_and_counted(
        self,
        api: httpx.AsyncClient,
        services: Services,
        sentry: CapturingTransport,  # noqa: F811
    ) -> None:
        clock = FixedClock(NOW)

        async def broken() -> dict[str, int]:
            raise DependencyUnavailable("Cal.com is down", code="CALCOM_UNAVAILABLE")

        async def fine() -> dict[str, int]:
            return {"sent": 3}

        assert await run_logged(services.database, "example", clock.now, broken) is None
        assert await run_logged(services.database, "example", clock.now, fine) == {"sent": 3}
        (event,) = sentry.events
        assert event["tags"]["job"] == "example" and event["tags"]["error_code"] == "CALCOM_UNAVAILABLE"
        assert event["tags"]["feature"] == "thotis-mentoring"
        runs = (await api.get("/api/v2/platform/jobs", headers=ADMIN)).json()["data"]
        (run,) = [run for run in runs if run["name"] == "example"]
        assert (run["runs"], run["failures"], run["lastError"], run["lastCounts"]) == (2, 1, None, {"sent": 3})
        assert run["lastSuccessStartedAt"] == NOW.isoformat()
