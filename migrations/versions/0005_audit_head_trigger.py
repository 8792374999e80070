"""audit_events: the chain head follows each appended event, moved by a trigger

Every insert into audit_events moves its chain's row in audit_chain_heads to the new event's seq
and hash, inside the database and in the same statement. The application no longer sends a second
statement per event, and the head can no longer be left behind by a writer that forgets it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION fengqiao_audit_move_head() RETURNS trigger AS $$
            BEGIN
                UPDATE audit_chain_heads SET seq = NEW.seq, hash = NEW.hash WHERE chain = NEW.chain;
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql
        """)
        op.execute("""
            CREATE TRIGGER audit_events_move_head AFTER INSERT ON audit_events
            FOR EACH ROW EXECUTE FUNCTION fengqiao_audit_move_head()
        """)
    else:
        op.execute("""
            CREATE TRIGGER audit_events_move_head AFTER INSERT ON audit_events
            BEGIN
                UPDATE audit_chain_heads SET seq = NEW.seq, hash = NEW.hash WHERE chain = NEW.chain;
            END
        """)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_move_head ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS fengqiao_audit_move_head()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_move_head")
