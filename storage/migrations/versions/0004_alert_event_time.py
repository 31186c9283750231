"""alert rules on event time: late items counted, articles indexed by stored time

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

``alert_evaluator`` gains ``late_items`` (a running total of the first reports stored
after the rules had evaluated their bucket, i.e. later than the allowed lateness) and
``late_checked_at`` (the database time up to which stored articles were looked at for
that). ``articles.stored_at`` is indexed: the data clock's watermark reads the sources
that stored something recently, and the late count reads what was stored since the last
round.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('alert_evaluator') as batch:
        batch.add_column(sa.Column('late_items', sa.BigInteger(), server_default=sa.text('0'), nullable=False))
        batch.add_column(sa.Column('late_checked_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_articles_stored_at', 'articles', ['stored_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_articles_stored_at', table_name='articles')
    with op.batch_alter_table('alert_evaluator') as batch:
        batch.drop_column('late_checked_at')
        batch.drop_column('late_items')
