"""The rating a prospective student gives a session (R7.3, R19.2)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StrictInt, StringConstraints
from pydantic.alias_generators import to_camel

from thotis_ext.profiles.schemas import Printable, exactly

Stars = Annotated[StrictInt, exactly(int, "a whole number from 1 to 5")]
Feedback = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), Printable]


class RatingCreate(BaseModel):
    """`{rating, feedback?}`: 1–5 stars and at most 500 characters."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid")

    rating: Stars
    feedback: Feedback | None = None
