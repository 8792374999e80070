"""The short intake form for a new lead / new case (a grid worker on a phone: six fields)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from cases.models import CATEGORIES, OrgUnit, User
from cases.permissions import CREATE_ROLES
from cases.roles import Role

PHONE_RE = re.compile(r"^\+?[0-9][0-9 \-]{5,19}$")
ROLE_ORDER = (Role.GRID_WORKER, Role.MEDIATOR, Role.POLICE, Role.SUPERVISOR)


def creatable_units(user: User) -> list[tuple[OrgUnit, str]]:
    """(org unit, acting role) pairs where ``user`` may register a case."""
    seen: dict[int, tuple[OrgUnit, str]] = {}
    for m in sorted(user.memberships, key=lambda m: ROLE_ORDER.index(Role(m.role))
                    if m.role in CREATE_ROLES else 99):
        if m.role in CREATE_ROLES or m.role == Role.ADMIN:
            seen.setdefault(m.org_unit.id, (m.org_unit, m.role))
    return list(seen.values())


@dataclass
class IntakeForm:
    title: str = ""
    category: str = ""
    unit: str = ""
    applicant_name: str = ""
    applicant_phone: str = ""
    respondent_name: str = ""
    respondent_phone: str = ""
    description: str = ""
    units: list[tuple[OrgUnit, str]] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)

    FIELDS = ("title", "category", "unit", "applicant_name", "applicant_phone", "respondent_name",
              "respondent_phone", "description")

    @classmethod
    def from_request(cls, posted: Any, units: list[tuple[OrgUnit, str]]) -> IntakeForm:
        form = cls(units=units)
        if posted is not None:
            for name in cls.FIELDS:
                setattr(form, name, (posted.get(name) or "").strip())
        if not form.unit and len(units) >= 1:
            form.unit = str(units[0][0].id)
        return form

    def _add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def validate(self) -> bool:
        if not self.title:
            self._add("title", _("Enter a short title for the dispute."))
        elif len(self.title) > 200:
            self._add("title", _("Use at most 200 characters."))
        if self.category not in CATEGORIES:
            self._add("category", _("Choose the kind of dispute."))
        if self.unit not in {str(u.id) for u, _role in self.units}:
            self._add("unit", _("Choose where the case is registered."))
        if not self.applicant_name:
            self._add("applicant_name", _("Enter the name of the person who asks for mediation."))
        for name in ("applicant_name", "respondent_name"):
            if len(getattr(self, name)) > 100:
                self._add(name, _("Use at most 100 characters."))
        for name in ("applicant_phone", "respondent_phone"):
            value = getattr(self, name)
            if value and not PHONE_RE.match(value):
                self._add(name, _("Enter a phone number of digits only, e.g. 13800138000."))
        if len(self.description) > 5000:
            self._add("description", _("Use at most 5000 characters."))
        return not self.errors

    def unit_and_role(self) -> tuple[OrgUnit, str]:
        return next((u, r) for u, r in self.units if str(u.id) == self.unit)

    def parties(self) -> list[dict[str, Any]]:
        out = [{"role": "applicant", "name": self.applicant_name, "phone": self.applicant_phone or None}]
        if self.respondent_name:
            out.append({"role": "respondent", "name": self.respondent_name,
                        "phone": self.respondent_phone or None})
        return out
