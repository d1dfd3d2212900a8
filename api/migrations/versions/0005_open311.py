"""Open311: the reporter's contact fields kept privately, public media links. Descriptions
earlier Open311 posts kept in the ticket history (visible to every reader) move into the
private reporter table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 03:46:10.626342
"""

from alembic import op
import sqlalchemy as sa
import api.db.types


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('open311_reporters',
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('at', api.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('first_name', sa.String(length=200), nullable=True),
    sa.Column('last_name', sa.String(length=200), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=64), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_open311_reporters_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_id', name=op.f('pk_open311_reporters'))
    )
    op.create_table('public_media',
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('created_at', api.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', api.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('source_key', sa.String(length=255), nullable=True),
    sa.Column('object_key', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_public_media_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_id', name=op.f('pk_public_media')),
    sa.UniqueConstraint('token', name=op.f('uq_public_media_token'))
    )
    op.execute("INSERT INTO open311_reporters (ticket_id, at, description) "
               "SELECT ticket_id, MIN(at), MAX(note) FROM ticket_events "
               "WHERE action = 'open311_report' AND note IS NOT NULL GROUP BY ticket_id")
    op.execute("UPDATE ticket_events SET note = NULL WHERE action = 'open311_report'")


def downgrade() -> None:
    op.execute("UPDATE ticket_events SET note = (SELECT r.description FROM open311_reporters r "
               "WHERE r.ticket_id = ticket_events.ticket_id) WHERE action = 'open311_report'")
    op.drop_table('public_media')
    op.drop_table('open311_reporters')
