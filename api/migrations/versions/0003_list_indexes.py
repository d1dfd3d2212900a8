"""Indexes for the operators' most common ticket lists: one issue type's queue by status, and
tickets of one severity by due time (measured with bench/api.py on 100,000 tickets).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 10:00:00
"""

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_type_status_created', ['issue_type', 'status', 'created_at'], unique=False)
        batch_op.create_index('ix_tickets_severity_due', ['severity', 'due_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_severity_due')
        batch_op.drop_index('ix_tickets_type_status_created')
