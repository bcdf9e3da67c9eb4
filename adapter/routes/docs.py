"""OpenAPI response documentation shared by routes: which error envelopes a route may return."""

from __future__ import annotations

from litestar.openapi.datastructures import ResponseSpec

from adapter.envelope import ErrorEnvelope

_DESCRIPTIONS = {
    400: "Invalid input or broken business rule (VALIDATION_ERROR, MALFORMED_JSON, …)",
    401: "Missing or invalid credentials (UNAUTHORIZED, INVALID_TOKEN, TOKEN_EXPIRED, INVALID_SIGNATURE)",
    403: "Token not allowed here (ROLE_NOT_ALLOWED, NOT_OWNER)",
    404: "Unknown resource (PROFILE_NOT_FOUND, NOT_FOUND, PHOTO_NOT_FOUND)",
    409: "Conflict with the current state (PROFILE_EXISTS, CALCOM_ACCOUNT_TAKEN, MENTOR_NOT_BOOKABLE)",
    502: "Cal.com refused the request (CALCOM_ERROR, CALCOM_UNAUTHORIZED)",
    504: "Cal.com did not answer in time (CALCOM_TIMEOUT)",
    413: "Body or upload too large (PAYLOAD_TOO_LARGE, PHOTO_TOO_LARGE)",
    429: "Rate limited (RATE_LIMITED); see Retry-After",
    503: "A dependency is unavailable (DATABASE_UNAVAILABLE, CALCOM_UNAVAILABLE, JWKS_UNAVAILABLE)",
}


def errors(*codes: int, api: bool = True) -> dict[int, ResponseSpec]:
    """Error responses for the OpenAPI document; `api` routes also answer 401, 429 and 503."""
    wanted = sorted({*codes, 401, 429, 503} if api else set(codes))
    return {
        code: ResponseSpec(data_container=ErrorEnvelope, description=_DESCRIPTIONS[code], generate_examples=False)
        for code in wanted
    }
