"""workflow_task_states: a case's engine state stored as one row per task

A save writes only the tasks whose JSON changed instead of the whole history. States saved in the
earlier format (the whole JSON in workflow_instances.state) still load and move to rows on their
next save, so no data is converted here.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workflow_task_states",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=40), nullable=False),
        sa.Column("ord", sa.Integer(), nullable=False),
        sa.Column("workflow_key", sa.String(length=40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_workflow_task_states_case_id_cases"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("case_id", "task_id", name=op.f("pk_workflow_task_states")),
    )


def downgrade() -> None:
    # Put every state saved as rows back into workflow_instances.state before the rows go.
    conn = op.get_bind()
    cases = conn.execute(sa.text("SELECT case_id, state FROM workflow_instances "
                                 "WHERE serializer_version = 'spiff-1.5+rows-1'")).all()
    for case_id, header in cases:
        dct = json.loads(header)
        grouped: dict[str, list[str]] = {}
        for key, body in conn.execute(sa.text("SELECT workflow_key, body FROM workflow_task_states "
                                              "WHERE case_id = :c ORDER BY ord"), {"c": case_id}):
            grouped.setdefault(key, []).append(body)
        for key, texts in grouped.items():
            (dct if key == "" else dct["subprocesses"][key])["tasks"] = json.loads("{" + ", ".join(texts) + "}")
        conn.execute(sa.text("UPDATE workflow_instances SET state = :s, serializer_version = 'spiff-1.5+ref-1' "
                             "WHERE case_id = :c"), {"s": json.dumps(dct, ensure_ascii=False), "c": case_id})
    op.drop_table("workflow_task_states")
