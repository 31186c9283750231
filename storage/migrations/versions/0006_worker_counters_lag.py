"""worker counters carry the consumer lag

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

``worker_counters`` gains ``lag``: the consumer group's lag (log end offset minus the
committed offset) summed over the partitions of the agent's topic that the worker
holds, written with its counters for the dashboard; NULL until a worker has read it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('worker_counters') as batch:
        batch.add_column(sa.Column('lag', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('worker_counters') as batch:
        batch.drop_column('lag')
