"""The push outbox moves into the ticket database: subscriptions, events, deliveries (written in
the ticket change's own transaction; shared by every API host).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 19:44:32.449974
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('push_events',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_events'))
    )
    with op.batch_alter_table('push_events', schema=None) as batch_op:
        batch_op.create_index('ix_push_events_created_at', ['created_at'], unique=False)

    op.create_table('push_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=False),
    sa.Column('events', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_subscriptions'))
    )
    op.create_table('push_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_at', sa.Float(), nullable=False),
    sa.Column('claimed_until', sa.Float(), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('delivered_at', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['push_events.id'], name=op.f('fk_push_deliveries_event_id_push_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_deliveries'))
    )
    with op.batch_alter_table('push_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_push_deliveries_due', ['state', 'next_at'], unique=False)
        batch_op.create_index('ix_push_deliveries_claimed', ['state', 'claimed_until'], unique=False)
        batch_op.create_index(batch_op.f('ix_push_deliveries_event_id'), ['event_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('push_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_push_deliveries_event_id'))
        batch_op.drop_index('ix_push_deliveries_due')
        batch_op.drop_index('ix_push_deliveries_claimed')

    op.drop_table('push_deliveries')
    op.drop_table('push_subscriptions')
    with op.batch_alter_table('push_events', schema=None) as batch_op:
        batch_op.drop_index('ix_push_events_created_at')

    op.drop_table('push_events')
