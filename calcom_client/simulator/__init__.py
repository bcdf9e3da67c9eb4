"""An in-process Cal.com API v2 simulator for the embedded mode, benchmarks and end-to-end tests.

It answers the subset of API v2 the sidecar uses with Cal.com's paths, version headers, status
codes, envelopes and error bodies, and sends Cal.com's webhooks (signed with
`X-Cal-Signature-256`) to subscribers through an injectable `httpx.AsyncClient`.
"""

from calcom_client.simulator.simulator import CalcomSimulator, create_simulator
from calcom_client.simulator.state import Attendee, Booking, Delivery, EventType, Subscription, User
from calcom_client.simulator.webhooks import NO_SECRET_SIGNATURE, sign

__all__ = [
    "NO_SECRET_SIGNATURE",
    "Attendee",
    "Booking",
    "CalcomSimulator",
    "Delivery",
    "EventType",
    "Subscription",
    "User",
    "create_simulator",
    "sign",
]
