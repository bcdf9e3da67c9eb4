"""The pure retry policy: examples, then hypothesis properties (≥ 100 examples each, tests/conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calcom_client.retry import (
    FailureKind,
    RetryPolicy,
    backoff_delay,
    is_retryable,
    is_retryable_status,
    next_delay,
    server_wait,
)

NOW = datetime(2050, 9, 5, 9, 0, tzinfo=UTC)

policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(1, 8),
    base_delay=st.floats(0, 2),
    max_delay=st.floats(2, 30),
    budget=st.floats(0.5, 120),
    max_server_wait=st.floats(0, 90),
)
statuses = st.integers(100, 599)
failures = st.none() | st.sampled_from(FailureKind)
jitters = st.floats(0, 1)
hints = st.none() | st.floats(0, 200)


class TestWhatIsRetried:
    @pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
    def test_transient_statuses_are_retried_for_idempotent_calls(self, status: int) -> None:
        assert is_retryable(status=status, failure=None, idempotent=True)

    @pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
    def test_creating_calls_are_never_retried_on_an_answer(self, status: int) -> None:
        assert not is_retryable(status=status, failure=None, idempotent=False)

    @pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
    def test_client_errors_are_never_retried(self, status: int) -> None:
        assert not is_retryable(status=status, failure=None, idempotent=True)

    def test_a_request_that_never_left_is_retried_even_when_it_creates(self) -> None:
        assert is_retryable(status=None, failure=FailureKind.NOT_SENT, idempotent=False)

    @pytest.mark.parametrize("failure", [FailureKind.TIMEOUT, FailureKind.NETWORK])
    def test_a_request_that_may_have_arrived_is_retried_only_if_idempotent(self, failure: FailureKind) -> None:
        assert is_retryable(status=None, failure=failure, idempotent=True)
        assert not is_retryable(status=None, failure=failure, idempotent=False)

    def test_policy_rejects_nonsense(self) -> None:
        with pytest.raises(ValueError, match="max_attempts"):
            RetryPolicy(max_attempts=0)
        with pytest.raises(ValueError, match="base_delay"):
            RetryPolicy(base_delay=5, max_delay=1)
        with pytest.raises(ValueError, match="budget"):
            RetryPolicy(budget=0)


class TestServerWait:
    def test_reads_retry_after_seconds(self) -> None:
        assert server_wait({"Retry-After": "7"}, NOW) == 7

    def test_reads_retry_after_http_date(self) -> None:
        when = format_datetime(NOW + timedelta(seconds=30), usegmt=True)
        assert server_wait({"retry-after": when}, NOW) == 30

    def test_a_date_in_the_past_means_now(self) -> None:
        assert server_wait({"Retry-After": format_datetime(NOW - timedelta(hours=1), usegmt=True)}, NOW) == 0

    def test_reads_calcom_rate_limit_reset_when_exhausted(self) -> None:
        headers = {
            "X-RateLimit-Limit-Default": "120",
            "X-RateLimit-Remaining-Default": "0",
            "X-RateLimit-Reset-Default": "42",
        }
        assert server_wait(headers, NOW) == 42

    def test_ignores_the_reset_of_a_limit_with_room_left(self) -> None:
        headers = {"X-RateLimit-Remaining-Default": "3", "X-RateLimit-Reset-Default": "42"}
        assert server_wait(headers, NOW) is None

    def test_takes_the_soonest_reset_among_exhausted_limits(self) -> None:
        headers = {
            "X-RateLimit-Remaining-Default": "0",
            "X-RateLimit-Reset-Default": "50",
            "X-RateLimit-Remaining-Burst": "0",
            "X-RateLimit-Reset-Burst": "4",
        }
        assert server_wait(headers, NOW) == 4

    def test_reads_an_epoch_reset_as_a_moment(self) -> None:
        headers = {"X-RateLimit-Remaining-Default": "0", "X-RateLimit-Reset-Default": str(int(NOW.timestamp()) + 9)}
        assert server_wait(headers, NOW) == 9

    def test_retry_after_wins_over_rate_limit_headers(self) -> None:
        headers = {"Retry-After": "2", "X-RateLimit-Remaining-Default": "0", "X-RateLimit-Reset-Default": "60"}
        assert server_wait(headers, NOW) == 2

    @pytest.mark.parametrize("value", ["soon", "", "NaN", "inf"])
    def test_garbage_is_no_hint(self, value: str) -> None:
        assert server_wait({"Retry-After": value}, NOW) is None

    @given(seconds=st.integers(0, 10**6))
    def test_property_retry_after_seconds_are_read_exactly(self, seconds: int) -> None:
        assert server_wait({"Retry-After": str(seconds)}, NOW) == seconds


class TestBackoffProperties:
    @given(policy=policies, attempt=st.integers(1, 100), jitter=jitters)
    def test_property_backoff_is_within_zero_and_the_exponential_ceiling(
        self, policy: RetryPolicy, attempt: int, jitter: float
    ) -> None:
        delay = backoff_delay(policy, attempt, jitter)
        assert 0 <= delay <= min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))

    @given(
        policy=policies,
        attempt=st.integers(1, 10),
        elapsed=st.floats(0, 200),
        retryable=st.booleans(),
        hint=hints,
        jitter=jitters,
    )
    def test_property_a_delay_is_bounded_respects_the_hint_and_never_overruns_the_budget(
        self, policy: RetryPolicy, attempt: int, elapsed: float, retryable: bool, hint: float | None, jitter: float
    ) -> None:
        delay = next_delay(policy, attempt=attempt, elapsed=elapsed, retryable=retryable, wait_hint=hint, jitter=jitter)
        if delay is None:
            return
        assert retryable
        assert attempt < policy.max_attempts
        assert 0 <= delay <= max(policy.max_delay, policy.max_server_wait)
        assert elapsed + delay < policy.budget
        if hint is not None:
            assert hint <= policy.max_server_wait
            assert delay >= hint

    @given(policy=policies, attempt=st.integers(1, 10), elapsed=st.floats(0, 200), hint=hints, jitter=jitters)
    def test_property_an_outcome_that_is_not_retryable_is_never_retried(
        self, policy: RetryPolicy, attempt: int, elapsed: float, hint: float | None, jitter: float
    ) -> None:
        assert (
            next_delay(policy, attempt=attempt, elapsed=elapsed, retryable=False, wait_hint=hint, jitter=jitter) is None
        )

    @given(status=statuses, failure=failures, idempotent=st.booleans())
    def test_property_non_retryable_statuses_are_never_retried(
        self, status: int, failure: FailureKind | None, idempotent: bool
    ) -> None:
        retryable = is_retryable(status=None if failure else status, failure=failure, idempotent=idempotent)
        if failure is None and (not is_retryable_status(status) or not idempotent):
            assert not retryable
        if status == 409 and failure is None:
            assert not retryable

    @given(
        policy=policies,
        outcomes=st.lists(st.tuples(st.floats(0, 5), hints, jitters), min_size=1, max_size=12),
    )
    def test_property_a_whole_retry_loop_stays_within_attempts_and_budget(
        self, policy: RetryPolicy, outcomes: list[tuple[float, float | None, float]]
    ) -> None:
        """Replays a loop of failing attempts (each taking some time, with some hint) as the transport does."""
        elapsed = 0.0
        attempts = 0
        for duration, hint, jitter in outcomes:
            attempts += 1
            elapsed += duration
            delay = next_delay(policy, attempt=attempts, elapsed=elapsed, retryable=True, wait_hint=hint, jitter=jitter)
            if delay is None:
                break
            elapsed += delay
            assert elapsed < policy.budget
        assert attempts <= policy.max_attempts
