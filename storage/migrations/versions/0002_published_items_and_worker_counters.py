"""published items and worker counters

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

``published_items`` remembers what the feed scheduler has published, so a restart or
an overlapping feed never publishes an item twice (with title and syndication link for
its near-duplicate memory); ``source_health`` gains the scheduler's per-feed state. ``worker_counters`` holds each
worker's agent counters, flushed every few seconds, for the dashboard.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('published_items',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('feed', sa.String(length=200), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('duplicate_of', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_published_items'))
    )
    # The feed scheduler's per-feed state: refused entries, conditional-GET validators,
    # and when a failing feed may be polled again.
    with op.batch_alter_table('source_health') as batch:
        batch.add_column(sa.Column('items_rejected', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch.add_column(sa.Column('etag', sa.Text(), nullable=True))
        batch.add_column(sa.Column('last_modified', sa.Text(), nullable=True))
        batch.add_column(sa.Column('retry_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_published_items_published_at', 'published_items', ['published_at'], unique=False)
    op.create_table('worker_counters',
    sa.Column('worker', sa.String(length=200), nullable=False),
    sa.Column('agent', sa.String(length=40), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed', sa.BigInteger(), nullable=False),
    sa.Column('dead_lettered', sa.BigInteger(), nullable=False),
    sa.Column('retried', sa.BigInteger(), nullable=False),
    sa.Column('batches', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('worker', 'agent', name=op.f('pk_worker_counters'))
    )
    op.create_index('ix_worker_counters_updated_at', 'worker_counters', ['updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_worker_counters_updated_at', table_name='worker_counters')
    op.drop_table('worker_counters')
    with op.batch_alter_table('source_health') as batch:
        batch.drop_column('retry_at')
        batch.drop_column('last_modified')
        batch.drop_column('etag')
        batch.drop_column('items_rejected')
    op.drop_index('ix_published_items_published_at', table_name='published_items')
    op.drop_table('published_items')
