"""Domain model: org units, users, memberships, cases, parties and per-case grants."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cases.db import Base, utcnow


class OrgKind(StrEnum):
    COUNTY = "county"
    TOWN = "town"
    STREET = "street"
    VILLAGE = "village"
    COMMUNITY = "community"
    GRID = "grid"
    POLICE_STATION = "police_station"
    COMMITTEE = "committee"


class Level(StrEnum):
    """Rungs of the escalation ladder: village/grid → town/street → county."""

    VILLAGE = "village"
    TOWN = "town"
    COUNTY = "county"


LEVEL_OF_KIND = {
    OrgKind.COUNTY: Level.COUNTY,
    OrgKind.TOWN: Level.TOWN,
    OrgKind.STREET: Level.TOWN,
    OrgKind.VILLAGE: Level.VILLAGE,
    OrgKind.COMMUNITY: Level.VILLAGE,
    OrgKind.GRID: Level.VILLAGE,
}


class CaseStatus(StrEnum):
    OPEN = "open"
    ERROR = "error"
    CLOSED = "closed"


CATEGORIES: dict[str, dict[str, str]] = {
    "marriage_family": {"zh": "婚姻家庭", "en": "Marriage and family"},
    "neighbour": {"zh": "邻里", "en": "Neighbour"},
    "housing_homestead": {"zh": "房屋宅基地", "en": "Housing and homestead"},
    "contract": {"zh": "合同", "en": "Contract"},
    "production_business": {"zh": "生产经营", "en": "Production and business"},
    "damages": {"zh": "损害赔偿", "en": "Damages"},
    "forest_land": {"zh": "山林土地", "en": "Forest and land"},
    "land_acquisition": {"zh": "征地拆迁", "en": "Land acquisition and demolition"},
    "pollution": {"zh": "环境污染", "en": "Environmental pollution"},
    "labour": {"zh": "劳动争议", "en": "Labour dispute"},
    "consumer": {"zh": "消费", "en": "Consumer"},
    "medical": {"zh": "医疗", "en": "Medical"},
    "traffic": {"zh": "道路交通事故", "en": "Road traffic accident"},
    "property_management": {"zh": "物业", "en": "Property management"},
    "other": {"zh": "其它", "en": "Other"},
}

RISK_COLOURS = ("red", "orange", "yellow", "blue")


class OrgUnit(Base):
    """A node of the org tree. ``path`` is the materialised ancestry ``/1/4/9/`` for subtree checks."""

    __tablename__ = "org_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    path: Mapped[str] = mapped_column(String(400), default="/", index=True)

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id])

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh" else self.name_en

    @property
    def level(self) -> Level:
        """The ladder level; police stations and committees take their parent's level."""
        unit: OrgUnit | None = self
        while unit is not None:
            if unit.kind in LEVEL_OF_KIND:
                return LEVEL_OF_KIND[OrgKind(unit.kind)]
            unit = unit.parent
        return Level.COUNTY

    def contains(self, other: OrgUnit) -> bool:
        """True when ``other`` is this unit or lies below it."""
        return other.path.startswith(self.path)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(5), default="zh")
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Notifications older than this count as read (set by "mark all read").
    notifications_read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", lazy="selectin", order_by="Membership.id", cascade="all, delete-orphan")

    # Flask-Login protocol, kept framework-free.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def roles(self) -> set[str]:
        return {m.role for m in self.memberships}


class Membership(Base):
    """User × role × org unit."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "role", "org_unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))

    user: Mapped[User] = relationship(back_populates="memberships")
    org_unit: Mapped[OrgUnit] = relationship(lazy="joined")


class Case(Base):
    """A dispute case. ``number`` is unique per county and year, e.g. ``2026-0001``."""

    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("county_id", "year", "seq"),
                      UniqueConstraint("county_id", "number"))

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(20), index=True)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40))
    risk_colour: Mapped[str | None] = mapped_column(String(10))
    level: Mapped[str] = mapped_column(String(10))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default=CaseStatus.OPEN, index=True)
    stage: Mapped[str | None] = mapped_column(String(40))
    outcome: Mapped[str | None] = mapped_column(String(40))
    closed_level: Mapped[str | None] = mapped_column(String(10))
    language: Mapped[str] = mapped_column(String(5), default="zh")
    description: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    org_unit: Mapped[OrgUnit] = relationship(foreign_keys=[org_unit_id], lazy="joined")
    parties: Mapped[list[Party]] = relationship(
        back_populates="case", order_by="Party.id", cascade="all, delete-orphan")
    grants: Mapped[list[CaseGrant]] = relationship(back_populates="case", cascade="all, delete-orphan")


class Party(Base):
    __tablename__ = "parties"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))  # applicant / respondent / third_party
    name: Mapped[str] = mapped_column(String(120), index=True)
    id_number: Mapped[str | None] = mapped_column(String(30))
    phone: Mapped[str | None] = mapped_column(String(30))
    address: Mapped[str | None] = mapped_column(String(300))
    relation: Mapped[str | None] = mapped_column(String(120))

    case: Mapped[Case] = relationship(back_populates="parties")

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "name": self.name, "id_number": self.id_number,
                "phone": self.phone, "address": self.address, "relation": self.relation}


class CaseGrant(Base):
    """A per-case grant, e.g. a lawyer invited to one "police + lawyer" case."""

    __tablename__ = "case_grants"
    __table_args__ = (UniqueConstraint("case_id", "user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    case: Mapped[Case] = relationship(back_populates="grants")
    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")


class Holiday(Base):
    """Admin-editable calendar: public holidays, and make-up working days (``is_workday``)."""

    __tablename__ = "holidays"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # ISO date
    is_workday: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str] = mapped_column(String(80), default="")
