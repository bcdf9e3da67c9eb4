"""The job run log for administrators: GET /api/v2/platform/jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from pydantic import BaseModel

from adapter.auth import Role
from adapter.envelope import Envelope, ok
from adapter.guards import allow, services_of
from adapter.routes.docs import errors
from jobs.runlog import all_runs

# ruff: noqa: N815  (JSON field names are camelCase)


class JobRunOut(BaseModel):
    name: str
    lastStartedAt: datetime
    lastFinishedAt: datetime
    lastDurationMs: int
    lastCounts: dict[str, Any]
    lastError: str | None
    lastSuccessStartedAt: datetime | None
    runs: int
    failures: int


@get(
    "/platform/jobs",
    opt=allow(Role.ADMIN),
    tags=["platform"],
    responses={200: ResponseSpec(Envelope[list[JobRunOut]]), **errors(403)},
    summary="The run log of every background job: last run, duration, counts, error, totals",
)
async def job_runs(request: Request[Any, Any, Any]) -> Response[bytes]:
    runs = await all_runs(services_of(request).database)
    return ok(
        [
            {
                "name": run.name,
                "lastStartedAt": run.last_started_at.isoformat(),
                "lastFinishedAt": run.last_finished_at.isoformat(),
                "lastDurationMs": run.last_duration_ms,
                "lastCounts": run.last_counts,
                "lastError": run.last_error,
                "lastSuccessStartedAt": run.last_success_started_at.isoformat()
                if run.last_success_started_at
                else None,
                "runs": run.runs,
                "failures": run.failures,
            }
            for run in runs
        ]
    )
