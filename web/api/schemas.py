"""API schemas: ``*Args`` for input, ``*Schema`` for output (whitelisted fields)."""

from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from cases.models import CATEGORIES


class TokenArgs(Schema):
    class Meta:
        unknown = RAISE

    username = fields.String(required=True, validate=validate.Length(min=1, max=60))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200),
                             load_only=True)


class TokenSchema(Schema):
    token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    username = fields.String()
    roles = fields.List(fields.String())


class TaskSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    case_number = fields.String(attribute="case.number")
    name = fields.String()
    spec_id = fields.String()
    process_id = fields.String()
    role = fields.String()
    org_unit = fields.String(attribute="org_unit.code")
    form_key = fields.String()
    documents = fields.List(fields.String())
    state = fields.String()
    due_at = fields.DateTime(allow_none=True)
    claimed_by = fields.String(attribute="claimed_by.username", allow_none=True)
    created_at = fields.DateTime()


class TaskListArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    case_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))


class CompleteArgs(Schema):
    class Meta:
        unknown = RAISE

    data = fields.Dict(keys=fields.String(), required=True)
    lang = fields.String(load_default="zh", validate=validate.OneOf(["zh", "en"]))


class CompletionSchema(Schema):
    case_id = fields.Integer()
    error = fields.String(allow_none=True)
    next_tasks = fields.List(fields.Nested(TaskSchema))


class PartyArgs(Schema):
    class Meta:
        unknown = RAISE

    role = fields.String(load_default="applicant",
                         validate=validate.OneOf(["applicant", "respondent", "third_party"]))
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    id_number = fields.String(validate=validate.Length(max=30), allow_none=True)
    phone = fields.String(validate=validate.Length(max=30), allow_none=True)
    address = fields.String(validate=validate.Length(max=300), allow_none=True)
    relation = fields.String(validate=validate.Length(max=120), allow_none=True)


class PartySchema(Schema):
    role = fields.String()
    name = fields.String()
    phone = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    relation = fields.String(allow_none=True)


class CaseArgs(Schema):
    class Meta:
        unknown = RAISE

    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    category = fields.String(required=True, validate=validate.OneOf(list(CATEGORIES)))
    org_unit = fields.String(validate=validate.Length(max=40),
                             metadata={"description": "org unit code; default: the caller's unit"})
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    language = fields.String(load_default="zh", validate=validate.OneOf(["zh", "en"]))
    parties = fields.List(fields.Nested(PartyArgs), load_default=list)
    process_id = fields.String(load_default="dispute", validate=validate.Length(max=100))


class CaseListArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(validate=validate.OneOf(["open", "error", "closed"]))
    category = fields.String(validate=validate.OneOf(list(CATEGORIES)))
    q = fields.String(validate=validate.Length(max=100))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class CaseSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    title = fields.String()
    category = fields.String()
    risk_colour = fields.String(allow_none=True)
    level = fields.String()
    org_unit = fields.String(attribute="org_unit.code")
    status = fields.String()
    stage = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    closed_level = fields.String(allow_none=True)
    language = fields.String()
    created_at = fields.DateTime()
    parties = fields.List(fields.Nested(PartySchema))


class CaseDetailSchema(CaseSchema):
    open_tasks = fields.List(fields.Nested(TaskSchema))
    workflow_status = fields.String(allow_none=True)
    workflow_error = fields.String(allow_none=True)
    workflow_error_element = fields.String(allow_none=True)


class CasePageSchema(Schema):
    items = fields.List(fields.Nested(CaseSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class EventSchema(Schema):
    seq = fields.Integer()
    at = fields.String()
    action = fields.String()
    actor_username = fields.String()
    actor_role = fields.String()
    payload = fields.Dict()
    prev_hash = fields.String()
    hash = fields.String()


class RetryArgs(Schema):
    class Meta:
        unknown = RAISE

    data = fields.Dict(keys=fields.String(), load_default=dict,
                       metadata={"description": "corrected task data for the failed step"})
