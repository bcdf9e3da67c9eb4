"""Sample mentors across every academic field, for the demo and for trying the API."""

from __future__ import annotations

from typing import Any

from thotis_ext.enums import AcademicField, Locale
from thotis_ext.profiles.schemas import ProfileCreate
from thotis_ext.profiles.service import ProfileService

_UNIVERSITIES = (
    "Sorbonne Université",
    "Université Paris Cité",
    "Université de Lyon",
    "Université de Bordeaux",
    "Sciences Po",
    "École Polytechnique",
)
_DEGREES = {
    AcademicField.LAW: "Licence de droit",
    AcademicField.MEDICINE: "Diplôme de formation générale en sciences médicales",
    AcademicField.ENGINEERING: "Cycle ingénieur",
    AcademicField.BUSINESS: "Bachelor in Management",
    AcademicField.COMPUTER_SCIENCE: "Licence d'informatique",
    AcademicField.PSYCHOLOGY: "Licence de psychologie",
    AcademicField.EDUCATION: "Master MEEF",
    AcademicField.ARTS: "Licence arts plastiques",
    AcademicField.SCIENCES: "Licence de physique-chimie",
    AcademicField.OTHER: "Licence pluridisciplinaire",
}
_FIRST_NAMES = ("Camille", "Léa", "Hugo", "Inès", "Lucas", "Chloé", "Nathan", "Manon", "Yanis", "Sarah")


def demo_api_key(user_id: str) -> str:
    """The Cal.com API key a sample mentor has in the demo's Cal.com simulator."""
    return f"cal_demo_{user_id.replace('-', '_')}"


def sample_profiles(per_field: int = 3, *, with_calcom: bool = False) -> list[tuple[str, ProfileCreate]]:
    """Deterministic (user id, profile) pairs: `per_field` mentors in each field.

    With `with_calcom`, each carries a link to a Cal.com user named like the mentor, whose API
    key is `demo_api_key(user_id)` (the demo creates those users in its simulator).
    """
    samples = []
    for f_index, field in enumerate(AcademicField):
        for n in range(per_field):
            index = f_index * per_field + n
            name = f"{_FIRST_NAMES[index % len(_FIRST_NAMES)]} {chr(65 + index % 26)}."
            university = _UNIVERSITIES[index % len(_UNIVERSITIES)]
            bio = (
                f"Étudiante/étudiant en {_DEGREES[field].lower()} à {university}, année {n + 1}. "
                "Je réponds à vos questions sur les cours, le rythme de travail, la vie étudiante "
                "et l'orientation après le bac."
            )
            user_id = f"demo-mentor-{index + 1:02d}"
            body: dict[str, Any] = {
                "name": name,
                "email": f"mentor{index + 1}@mentors.example.org",
                "locale": (Locale.FR if index % 3 else Locale.EN).value,
                "university": university,
                "degree": _DEGREES[field],
                "field": field.value,
                "currentYear": n % 5 + 1,
                "bio": bio,
                "linkedInUrl": f"https://www.linkedin.com/in/thotis-demo-{index + 1}",
            }
            if with_calcom:
                body["calcom"] = {"username": user_id, "apiKey": demo_api_key(user_id)}
            samples.append((user_id, ProfileCreate.model_validate(body)))
    return samples


async def seed_profiles(service: ProfileService, per_field: int = 3, *, with_calcom: bool = False) -> int:
    """Create the sample mentors that do not exist yet (re-linking the others to Cal.com when
    `with_calcom`); returns how many were created."""
    created = 0
    for user_id, profile in sample_profiles(per_field, with_calcom=with_calcom):
        if not await service.repo.exists(user_id):
            await service.create(user_id, profile)
            created += 1
        elif with_calcom:
            await service.relink(user_id)
    return created
