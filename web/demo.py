"""Demo data: an org tree, one user per role (password ``demo``) and a few cases."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.audit import Actor
from cases.models import OrgKind, OrgUnit, User
from cases.roles import Role
from cases.services import create_org_unit, create_user, grant, open_case
from workflows.deploy import latest_version
from workflows.services import start_case

DEMO_PASSWORD = "demo"

DEMO_USERS = [
    # username, display name (zh), role, org unit code
    ("admin", "系统管理员 王强", Role.ADMIN, "county"),
    ("supervisor", "司法所所长 李敏", Role.SUPERVISOR, "town"),
    ("mediator", "调解员 张秀英", Role.MEDIATOR, "village"),
    ("police", "民警 陈刚", Role.POLICE, "police-station"),
    ("lawyer", "律师 刘洋", Role.LAWYER, "county"),
    ("grid", "网格员 赵磊", Role.GRID_WORKER, "grid-1"),
    ("auditor", "审计员 孙丽", Role.AUDITOR, "county"),
]


def is_empty(session: Session) -> bool:
    return session.scalar(select(User.id).limit(1)) is None


def build_org_tree(session: Session) -> dict[str, OrgUnit]:
    units: dict[str, OrgUnit] = {}
    county = units["county"] = create_org_unit(session, code="county", name_zh="枫桥县",
                                               name_en="Fengqiao County", kind=OrgKind.COUNTY)
    town = units["town"] = create_org_unit(session, code="town", name_zh="枫桥镇", name_en="Fengqiao Town",
                                           kind=OrgKind.TOWN, parent=county)
    village = units["village"] = create_org_unit(session, code="village", name_zh="枫源村",
                                                 name_en="Fengyuan Village", kind=OrgKind.VILLAGE, parent=town)
    units["grid-1"] = create_org_unit(session, code="grid-1", name_zh="枫源村第一网格",
                                      name_en="Fengyuan Grid 1", kind=OrgKind.GRID, parent=village)
    units["police-station"] = create_org_unit(session, code="police-station", name_zh="枫桥派出所",
                                              name_en="Fengqiao Police Station",
                                              kind=OrgKind.POLICE_STATION, parent=town)
    units["town-committee"] = create_org_unit(session, code="town-committee",
                                              name_zh="枫桥镇人民调解委员会",
                                              name_en="Fengqiao Town People's Mediation Committee",
                                              kind=OrgKind.COMMITTEE, parent=town)
    units["village-committee"] = create_org_unit(session, code="village-committee",
                                                 name_zh="枫源村人民调解委员会",
                                                 name_en="Fengyuan Village People's Mediation Committee",
                                                 kind=OrgKind.COMMITTEE, parent=village)
    return units


def load_demo(session: Session, process_id: str = "dispute") -> list[tuple[str, str]]:
    """Create the demo org tree, users and cases (flush only). Returns (username, password) pairs."""
    units = build_org_tree(session)
    users = {}
    for username, name, role, unit in DEMO_USERS:
        users[username] = create_user(session, username=username, password=DEMO_PASSWORD,
                                      display_name=name, memberships=[(role, units[unit])])
    if latest_version(session, process_id) is not None:
        _demo_cases(session, users, units, process_id)
    return [(u, DEMO_PASSWORD) for u, *_ in DEMO_USERS]


def _demo_cases(session: Session, users: dict[str, User], units: dict[str, OrgUnit], process_id: str) -> None:
    mediator, police = users["mediator"], users["police"]
    samples = [
        (mediator, Role.MEDIATOR, "village", "张某与李某宅基地边界纠纷", "housing_homestead",
         [{"role": "applicant", "name": "张建国", "phone": "13800138000", "address": "枫源村3组"},
          {"role": "respondent", "name": "李卫东", "phone": "13900139000", "address": "枫源村3组"}]),
        (mediator, Role.MEDIATOR, "village", "王某与邻居噪音纠纷", "neighbour",
         [{"role": "applicant", "name": "王芳"}, {"role": "respondent", "name": "赵明"}]),
        (police, Role.POLICE, "village", "酒后口角引发的轻微伤害", "damages",
         [{"role": "applicant", "name": "周强"}, {"role": "respondent", "name": "吴斌"}]),
    ]
    for user, role, unit, title, category, parties in samples:
        case = open_case(session, actor=user, actor_role=role, org_unit=units[unit], title=title,
                         category=category, parties=parties)
        start_case(session, case, Actor(user.id, user.username, role), process_id=process_id)
        if role == Role.POLICE:
            grant(session, actor=Actor(users["supervisor"].id, "supervisor", Role.SUPERVISOR), case=case,
                  user=users["lawyer"], role=Role.LAWYER)
