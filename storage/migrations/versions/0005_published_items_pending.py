"""published items stay pending until stored

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

``published_items`` gains ``state`` (pending, stored, given_up), the ``record`` as sent
(kept while pending, so the scheduler can send it again when the broker lost it: the
embedded broker keeps records in memory only), ``attempts`` and ``retry_at``. Rows
from before are ``stored``: the broker acknowledged them, there is nothing to re-send.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('published_items') as batch:
        batch.add_column(sa.Column('state', sa.String(length=10), server_default=sa.text("'stored'"), nullable=False))
        batch.add_column(sa.Column('record', sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column('attempts', sa.Integer(), server_default=sa.text('1'), nullable=False))
        batch.add_column(sa.Column('retry_at', sa.DateTime(timezone=True), nullable=True))
        batch.create_check_constraint(op.f('ck_published_items_state'), "state IN ('pending', 'stored', 'given_up')")
    op.create_index('ix_published_items_state_retry_at', 'published_items', ['state', 'retry_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_published_items_state_retry_at', table_name='published_items')
    with op.batch_alter_table('published_items') as batch:
        batch.drop_constraint(op.f('ck_published_items_state'), type_='check')
        batch.drop_column('retry_at')
        batch.drop_column('attempts')
        batch.drop_column('record')
        batch.drop_column('state')
