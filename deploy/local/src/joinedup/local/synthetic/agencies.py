"""What each kind of agency writes down about a person, and whom it sees."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AgencyProfile:
    """Probability that an agency of this kind records each field at all (before any error)."""

    nhs_number: float
    ni_number: float
    date_of_birth: float
    address: float
    phone: float
    email: float
    min_age: int = 0
    max_age: int = 200


PROFILES: dict[str, AgencyProfile] = {
    "nhs": AgencyProfile(
        nhs_number=0.97, ni_number=0.05, date_of_birth=1.0, address=0.95, phone=0.8, email=0.3
    ),
    "local-authority": AgencyProfile(
        nhs_number=0.6, ni_number=0.25, date_of_birth=0.97, address=0.97, phone=0.7, email=0.4
    ),
    "law-enforcement": AgencyProfile(
        nhs_number=0.1, ni_number=0.5, date_of_birth=0.99, address=0.85, phone=0.5, email=0.1, min_age=10
    ),
    "central-government": AgencyProfile(
        nhs_number=0.05, ni_number=0.98, date_of_birth=1.0, address=0.95, phone=0.7, email=0.6, min_age=16
    ),
    "third-sector": AgencyProfile(
        nhs_number=0.15, ni_number=0.1, date_of_birth=0.95, address=0.5, phone=0.6, email=0.3, min_age=16
    ),
}

# Agencies that only see children or only adults, whatever their kind.
AGE_LIMITS: dict[str, tuple[int, int]] = {
    "council-childrens": (0, 17),
    "youth-offending": (10, 17),
    "council-asc": (18, 200),
    "probation": (18, 200),
}

LOCAL_ID_PREFIXES: dict[str, str] = {
    "council-asc": "ASC",
    "council-childrens": "CSC",
    "council-housing": "HOU",
    "nhs-mh-trust": "RMH",
    "nhs-acute-trust": "RAE",
    "gp-practice": "GPX",
    "police": "PNC",
    "probation": "NDL",
    "jobcentre": "JCP",
    "youth-offending": "YOT",
    "charity-shelter": "CHS",
}


def profile_for(kind: str) -> AgencyProfile:
    return PROFILES.get(kind, PROFILES["third-sector"])


def sees_age(agency: str, kind: str, age: int) -> bool:
    low, high = AGE_LIMITS.get(agency, (profile_for(kind).min_age, profile_for(kind).max_age))
    return low <= age <= high


def local_id_prefix(agency: str) -> str:
    return LOCAL_ID_PREFIXES.get(agency, agency.replace("-", "")[:3].upper())
