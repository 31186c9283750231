"""alert lifecycle state, alert events, receiver state, delivery attempts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

``alert_states`` is the evaluator's memory per fingerprint (rule + topic):
inactive/pending/firing/resolved with since, pending since and cooldown.
``alert_events`` holds every transition to firing or resolved as sent (the alerts topic
is fed from it, and ``finsent alerts replay`` re-sends from it). ``alert_evaluator`` is
one row: who evaluated last and when. ``webhook_receivers`` remembers a receiver that
answered 410 Gone. ``webhook_attempts`` records every delivery attempt;
``webhook_deliveries.give_up_at`` is the retry horizon of a delivery.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('alert_states',
    sa.Column('fingerprint', sa.String(length=200), nullable=False),
    sa.Column('rule', sa.String(length=100), nullable=False),
    sa.Column('topic', sa.String(length=100), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pending_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('alert_id', sa.String(length=64), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cooldown_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('inactive', 'pending', 'firing', 'resolved')", name=op.f('ck_alert_states_state')),
    sa.PrimaryKeyConstraint('fingerprint', name=op.f('pk_alert_states'))
    )
    op.create_table('alert_events',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('alert_id', sa.String(length=64), nullable=False),
    sa.Column('fingerprint', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('firing', 'resolved')", name=op.f('ck_alert_events_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_events'))
    )
    op.create_index(op.f('ix_alert_events_alert_id'), 'alert_events', ['alert_id'], unique=False)
    op.create_index('ix_alert_events_published_at', 'alert_events', ['published_at'], unique=False)
    op.create_table('alert_evaluator',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_evaluator'))
    )
    op.create_table('webhook_receivers',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disabled_reason', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_webhook_receivers'))
    )
    op.create_table('webhook_attempts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_ms', sa.Float(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('worker', sa.String(length=200), nullable=True),
    sa.CheckConstraint("outcome IN ('delivered', 'retry', 'failed', 'disabled')", name=op.f('ck_webhook_attempts_outcome')),
    sa.ForeignKeyConstraint(['delivery_id'], ['webhook_deliveries.id'], name=op.f('fk_webhook_attempts_delivery_id_webhook_deliveries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempts'))
    )
    op.create_index(op.f('ix_webhook_attempts_delivery_id'), 'webhook_attempts', ['delivery_id'], unique=False)
    with op.batch_alter_table('webhook_deliveries') as batch:
        batch.add_column(sa.Column('give_up_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('webhook_deliveries') as batch:
        batch.drop_column('give_up_at')
    op.drop_index(op.f('ix_webhook_attempts_delivery_id'), table_name='webhook_attempts')
    op.drop_table('webhook_attempts')
    op.drop_table('webhook_receivers')
    op.drop_table('alert_evaluator')
    op.drop_index('ix_alert_events_published_at', table_name='alert_events')
    op.drop_index(op.f('ix_alert_events_alert_id'), table_name='alert_events')
    op.drop_table('alert_events')
    op.drop_table('alert_states')
