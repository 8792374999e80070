"""Roles of Fengqiao users and how BPMN lane names map onto them.

A lane in a shipped or admin-edited diagram is named after a role, in Chinese or English
(for example ``调解员`` or ``Mediator``) or by the role code itself (``mediator``).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A user's role within an org unit (membership) or within one case (grant)."""

    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    MEDIATOR = "mediator"
    POLICE = "police"
    LAWYER = "lawyer"
    GRID_WORKER = "grid_worker"
    AUDITOR = "auditor"


ROLE_LABELS: dict[Role, dict[str, str]] = {
    Role.ADMIN: {"zh": "系统管理员", "en": "Administrator"},
    Role.SUPERVISOR: {"zh": "主管", "en": "Supervisor"},
    Role.MEDIATOR: {"zh": "调解员", "en": "Mediator"},
    Role.POLICE: {"zh": "民警", "en": "Police officer"},
    Role.LAWYER: {"zh": "律师", "en": "Lawyer"},
    Role.GRID_WORKER: {"zh": "网格员", "en": "Grid worker"},
    Role.AUDITOR: {"zh": "审计员", "en": "Auditor"},
}

# Extra spellings accepted in lane names (lower-cased, spaces collapsed).
_LANE_ALIASES: dict[str, Role] = {
    "grid worker": Role.GRID_WORKER,
    "grid": Role.GRID_WORKER,
    "police officer": Role.POLICE,
    "民警": Role.POLICE,
    "公安": Role.POLICE,
    "派出所民警": Role.POLICE,
    "人民调解员": Role.MEDIATOR,
    "管理员": Role.ADMIN,
    "主管": Role.SUPERVISOR,
    "司法所主管": Role.SUPERVISOR,
}


def _normalise(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).lower()


def _lane_table() -> dict[str, Role]:
    table: dict[str, Role] = {}
    for role in Role:
        table[_normalise(role.value)] = role
        for label in ROLE_LABELS[role].values():
            table[_normalise(label)] = role
    table.update(_LANE_ALIASES)
    return table


_LANES = _lane_table()


def role_for_lane(name: str | None) -> Role | None:
    """Return the role a lane name stands for, or ``None`` when the name maps to no role.

    A bilingual lane name such as ``调解员 Mediator`` or ``调解员 / mediator`` is accepted when
    every part names the same role.
    """
    if not name:
        return None
    key = _normalise(name)
    if key in _LANES:
        return _LANES[key]
    parts = [p for p in key.replace("/", " ").replace("（", " ").replace("）", " ")
             .replace("(", " ").replace(")", " ").split() if p]
    found = {_LANES.get(p) for p in parts}
    if len(found) == 1 and None not in found:
        return found.pop()
    return None
