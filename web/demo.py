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
    ("town_mediator", "镇调委会调解员 周静", Role.MEDIATOR, "town-committee"),
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
    """Cases at every stage, across categories and levels, each driven through the real runtime with
    the same service calls a browser makes: ``complete_task`` with valid form data, as the user whose
    role matches the task's lane. Dates are relative to today (China time), so clocks show live
    countdowns; the closed case's performance deadline lies in the past, so its return visit is due."""
    from datetime import datetime, timedelta, timezone
    from typing import Any

    from sqlalchemy import select as select_

    from workflows.models import HumanTask
    from workflows.services import complete_task
    from workflows.timers import fire_due_timer

    today = datetime.now(timezone(timedelta(hours=8))).date()

    def day(n: int = 0) -> str:
        return (today + timedelta(days=n)).isoformat()

    def actor(username: str) -> Actor:
        user = users[username]
        return Actor(user.id, user.username, next(iter(sorted(user.roles()))))

    def step(case: Any, spec_id: str, username: str, data: dict[str, Any]) -> None:
        task = session.scalars(select_(HumanTask).where(HumanTask.case_id == case.id, HumanTask.state == "ready",
                                                        HumanTask.spec_id == spec_id)).first()
        if task is None:
            raise RuntimeError(f"demo case {case.number}: no open task {spec_id!r}")
        result = complete_task(session, human_task_id=task.id, user=users[username], data=data)
        if result.error:
            raise RuntimeError(f"demo case {case.number}: {spec_id}: {result.error}")

    def new_case(title: str, category: str, parties: list[dict[str, Any]], unit: str = "grid-1") -> Any:
        case = open_case(session, actor=users["grid"], actor_role=Role.GRID_WORKER, org_unit=units[unit],
                         title=title, category=category, parties=parties)
        start_case(session, case, actor("grid"), process_id=process_id)
        return case

    def lead(case: Any, category: str, place: str, description: str, parties: list[dict[str, Any]],
             signals: list[str] | None = None, group_size: int = 2, occurred: int = 0) -> None:
        step(case, "register_lead", "grid", {
            "source": "grid_screening", "place": place, "occurred_on": day(occurred), "parties": parties,
            "category": category, "description": description, "signals": signals or ["none"],
            "group_size": group_size, "on_spot_attempt": False})

    def intake(case: Any, category: str, parties: list[dict[str, Any]], claims: str, facts: str,
               amount: str | None = None, applied: int = 0, police: bool = False) -> None:
        step(case, "register_application", "mediator", {
            "application_date": day(applied), "application_form": "written", "initiation": "applied",
            "parties": parties, "category": category, "claims": claims, "facts": facts,
            "evidence": [{"description": "现场照片及双方陈述", "provided_by": parties[0]["name"], "kind": "photo"}],
            "amount": amount})
        step(case, "acceptability_check", "mediator", {
            "specialised_organ_only": False, "already_before_authority": False, "party_refuses": False,
            "minor_public_security": police, "jurisdiction_basis": "place_of_dispute"})

    def accept(case: Any, record: str) -> None:
        step(case, "rights_notice", "mediator", {
            "notice_form": "written", "rights_explained": True, "consent_given": True,
            "public_mediation": "non_public", "invitees_consent": False, "mediator_preference": "designate"})
        step(case, "assign_mediator", "mediator", {
            "presiding_mediator": "张秀英", "assignment_basis": "designated", "conflict_checked": True,
            "recusal_requested": False})
        step(case, "investigation", "mediator", {
            "investigation_record": record, "site_visit": True, "appraisal_requested": False})

    def session_(case: Any, result: str, when: int, statements: str, task: str = "mediation_session") -> None:
        step(case, task, "mediator", {
            "session_date": day(when), "mode": "face_to_face", "attendees": "双方当事人、调解员张秀英",
            "statements": statements, "risk_notice_given": True, "session_result": result})

    def agree(case: Any, content: str, amount: str, signed: int, deadline: int, jc: bool) -> None:
        step(case, "finalize_agreement", "mediator", {
            "parties_info_checked": True, "facts_and_issues": case.description or case.title,
            "responsibilities": "双方各自承担相应责任。", "agreement_content": content,
            "performance_manner": "银行转账", "performance_place": "枫源村人民调解委员会",
            "performance_deadline": day(deadline), "amount": amount})
        step(case, "sign_agreement", "mediator", {
            "signing_method": "signature", "all_parties_signed": True, "mediator_signed": True,
            "committee_seal_affixed": True, "agreement_effective_date": day(signed), "copies": 3,
            "judicial_confirmation_wanted": jc})

    def people(a: tuple[str, ...], b: tuple[str, ...], relation: str) -> list[dict[str, Any]]:
        """Applicant and respondent as (name, phone, address[, resident ID number]); organisations have none."""
        return [{"role": role, "name": p[0], "phone": p[1], "address": p[2], "relation": relation,
                 "id_number": p[3] if len(p) > 3 else None}
                for role, p in (("applicant", a), ("respondent", b))]

    # 1. prevention: a lead the grid worker has still to register
    noise = people(("王芳", "13800138001", "枫源村5组12号", "330681196001011006"),
                   ("赵明", "13900139001", "枫源村5组14号", "330681196302081171"), "邻居")
    new_case("王某与邻居噪音纠纷", "neighbour", noise)

    # 2. intake: a fresh village case waiting at the mediator's first step (register the application);
    #    the demo mediator can take it from here to a signed agreement
    border = people(("张建国", "13800138000", "枫源村3组8号", "330681196603151348"),
                    ("李卫东", "13900139000", "枫源村3组9号", "330681196904221514"), "邻居")
    case = new_case("张某与李某宅基地边界纠纷", "housing_homestead", border)
    lead(case, "housing_homestead", "枫源村3组张、李两户宅基地交界处", "李家翻建围墙，张家认为围墙越过宅基地界线约半米，双方多次争吵。",
         border, occurred=-2)

    # 3. prevention, high risk: weapons and threats → police alert (Art. 25), waiting for the police
    threat = people(("钱小红", "13700137002", "枫源村2组3号", "330681197205011686"),
                    ("孙大力", "13600136002", "枫源村2组5号", "330681197506081856"), "邻居")
    case = new_case("孙某酒后持刀威胁邻居", "neighbour", threat)
    lead(case, "neighbour", "枫源村2组孙家门口", "孙某酒后手持菜刀在邻居钱家门口叫骂，扬言要“算账”。", threat,
         signals=["threats", "weapons", "repeated_police_calls"])

    # 4. police + lawyer joint mediation, waiting for the (granted) lawyer's legal explanation
    fight = people(("周强", "13500135003", "枫源村1组2号", "330681197807152021"),
                   ("吴斌", "13300133003", "枫源村1组6号", "330681198108222195"), "同村村民")
    case = new_case("酒后口角引发的轻微伤害", "damages", fight)
    lead(case, "damages", "枫源村文化礼堂门口", "周某与吴某酒后口角，吴某推搡周某致其手臂擦伤。", fight, occurred=-1)
    intake(case, "damages", fight, "吴斌赔礼道歉并赔偿医药费。", "酒后口角，推搡致轻微擦伤，已报警。", "800.00",
           police=True)
    step(case, "police_eligibility", "police", {
        "police_acceptance_date": day(-1), "violation_type": "beating", "caused_by_civil_dispute": True,
        "minor_violation": True, "mediable_circumstance": "acquaintances", "exclusions": ["none"],
        "minors_involved": False, "needs_appraisal": False, "lawyer_joint": True})
    grant(session, actor=actor("supervisor"), case=case, user=users["lawyer"], role=Role.LAWYER)

    # 5. transferred to the town: the risk grading recommends the town for a land-acquisition dispute
    land = people(("枫源村3组村民代表 何建华", "13200132004", "枫源村3组"), ("枫源村股份经济合作社", "057587000004", "枫源村村委会"),
                  "集体经济组织成员")
    case = new_case("枫源村征地补偿款分配纠纷", "land_acquisition", land)
    lead(case, "land_acquisition", "枫源村村委会", "3组部分村民对征地补偿款分配方案有异议，要求重新分配。", land,
         signals=["petition_intent"], group_size=6)
    intake(case, "land_acquisition", land, "按人口重新分配征地补偿款。", "村集体征地补偿款分配方案未经3组村民会议讨论。",
           "1200000.00")
    step(case, "transfer_to_town", "supervisor", {"transfer_reason": "recommended_level",
                                                  "transfer_note": "涉及集体经济组织成员权益，人数较多，移送镇调委会。"})

    # 6. labour mediation under way, with the 15-day clock of LDMAL Art. 14 counting down
    wages = people(("刘师傅（农民工代表）", "13100131005", "枫源村4组"), ("诸暨某建筑工程队", "057587000005", "枫桥镇工业区"),
                   "劳动关系")
    case = new_case("某建筑队拖欠农民工工资", "labour", wages)
    lead(case, "labour", "枫源村安置房工地", "工程队拖欠8名工人三个月工资，工人在工地聚集讨薪。", wages, group_size=8, occurred=-6)
    intake(case, "labour", wages, "支付拖欠工资共计人民币十二万元。", "工程完工后包工头以未结算为由拖欠工资。", "120000.00",
           applied=-5)
    accept(case, "核对工资表和考勤记录，询问工程队负责人。")
    session_(case, "continue", -3, "工程队同意支付，但对金额和期限有分歧。", task="mediation_session_labour")

    # 7. judicial confirmation: a signed agreement waiting for the joint application (30-day clock)
    loan = people(("孙志刚", "13000130006", "枫源村6组", "330681199011152703"),
                  ("周海燕", "15800158006", "枫桥镇新街", "330681199312222875"), "朋友")
    case = new_case("孙某与周某民间借贷纠纷", "contract", loan)
    lead(case, "contract", "枫源村6组", "周某借款五万元逾期未还，双方多次争执。", loan, occurred=-20)
    intake(case, "contract", loan, "归还借款五万元。", "2024年借款，约定一年归还，至今未还。", "50000.00", applied=-18)
    accept(case, "核实借条和转账记录。")
    session_(case, "written_agreement", -12, "周某承认借款，同意分两期归还。")
    agree(case, "周海燕于约定期限内分两期归还孙志刚借款人民币伍万元。", "50000.00", signed=-12, deadline=60, jc=True)

    # 8. closed at village level with a written agreement (its agreement PDF can be generated)
    rent = people(("赵丽", "13900139007", "枫源村7组", "330681196101013041"),
                  ("钱勇", "13800138007", "枫源村7组", "330681196402083211"), "租赁关系")
    case = new_case("赵某与钱某房屋租赁合同纠纷", "contract", rent)
    lead(case, "contract", "枫源村7组赵家出租房", "租客钱某拖欠房租三个月，房东赵某欲换锁。", rent, occurred=-52)
    intake(case, "contract", rent, "支付拖欠房租并按期搬离。", "租期一年，租客自今年起拖欠房租三个月。", "4500.00",
           applied=-50)
    accept(case, "查看租赁合同、收款记录，走访双方。")
    session_(case, "written_agreement", -45, "钱某承认欠租，同意一次付清并于下月搬离。")
    agree(case, "钱勇于履行期限前一次性支付赵丽房租人民币肆仟伍佰元，并搬离出租房。", "4500.00", signed=-45,
          deadline=-15, jc=False)
    while fire_due_timer(session) is not None:  # the performance deadline has passed: the return visit is due
        pass
    step(case, "return_visit", "mediator", {"visit_date": day(-14), "visit_method": "in_person",
                                            "performance_status": "performed", "party_feedback": "已付清并搬离。"})
    step(case, "archive_case_file", "mediator", {
        "case_file_items": ["application", "investigation_record", "mediation_record", "agreement"],
        "file_number": f"枫源调〔{today.year}〕{case.seq}号", "archived_on": day(-10)})
    step(case, "file_review", "supervisor", {"file_complete": True, "quality": "qualified"})
