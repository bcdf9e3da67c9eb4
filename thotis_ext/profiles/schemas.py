"""Input shapes of profile writes, validated with the rules of SPEC.md §2.

JSON is camelCase (`currentYear`, `linkedInUrl`); Python stays snake_case.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    SecretStr,
    StrictBool,
    StrictInt,
    StringConstraints,
)
from pydantic.alias_generators import to_camel

from thotis_ext import rules
from thotis_ext.enums import AcademicField, Locale


def _bio(value: str) -> str:
    value = rules.normalise_bio(value)
    if problem := rules.bio_length_problem(value):
        raise ValueError(problem)
    return value


def _linkedin(value: str) -> str:
    if not rules.is_linkedin_url(value):
        raise ValueError("linkedInUrl must be an https URL on linkedin.com")
    return value


def exactly(kind: type, what: str) -> BeforeValidator:
    """Refuse values of another JSON type: "3", 3.0 and true are not years, "yes" is not a boolean.

    Field-level `Strict` is not enough: the web layer validates bodies with `strict=False`.
    """

    def check(value: object) -> object:
        if type(value) is not kind:
            raise ValueError(f"must be {what}")
        return value

    return BeforeValidator(check)


def _year(value: int) -> int:
    if not rules.is_valid_year(value):
        raise ValueError(f"currentYear must be between {rules.YEAR_MIN} and {rules.YEAR_MAX}")
    return value


def _printable(value: str) -> str:
    if rules.has_control_characters(value):
        raise ValueError("must not contain control characters")
    return value


Printable = AfterValidator(_printable)
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Printable]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120), Printable]
Bio = Annotated[str, Printable, AfterValidator(_bio)]
LinkedInUrl = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=500), Printable, AfterValidator(_linkedin)
]
Year = Annotated[StrictInt, exactly(int, "a whole number"), AfterValidator(_year)]
Flag = Annotated[StrictBool, exactly(bool, "true or false")]


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", str_max_length=5000)


class CalcomLinkInput(_Body):
    """The mentor's Cal.com identity; `apiKey` only when the organisation key cannot act for them."""

    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), Printable]
    api_key: SecretStr | None = Field(None, description="Stored encrypted, never returned.")


class ProfileFields(_Body):
    """Fields shared by create and update; a profile missing a required one stays private."""

    university: Text200 | None = None
    degree: Text200 | None = None
    field: AcademicField | None = None
    current_year: Year | None = Field(None, description="Year of study, 1–10.")
    bio: Bio | None = Field(None, description="50–1000 characters after trimming.")
    linked_in_url: LinkedInUrl | None = Field(None, description="https URL on linkedin.com.")
    calcom: CalcomLinkInput | None = None


class ProfileCreate(ProfileFields):
    """Body of POST /students/{id}/profile."""

    name: Name
    email: EmailStr
    locale: Locale = Locale.FR


class ProfileUpdate(ProfileFields):
    """Body of PUT /students/{id}/profile: fields left out keep their value; null clears optional ones."""

    name: Name | None = None
    email: EmailStr | None = None
    locale: Locale | None = None


class StatusUpdate(_Body):
    """Body of PATCH /students/{id}/status."""

    is_active: Flag


#: Fields a profile must have to be shown publicly (R1.2, R1.5); they cannot be cleared.
REQUIRED_FIELDS = ("university", "degree", "field", "current_year", "bio")
