"""companies per article: relevance and novelty

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

``article_entities``: one row per (article, registry company it names), with the
relevance 0-100 of the company to the article, whether the article is news about it
(``novel``) and the article's ``published_at`` (so a company's series filtered by
relevance or novelty is one range scan of ``(entity_id, published_at)``). A company's
unfiltered series are rows of ``topic_buckets`` keyed ``entity:<id>``, which needs no
change of schema.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('article_entities',
    sa.Column('article_id', sa.String(length=128), nullable=False),
    sa.Column('entity_id', sa.String(length=20), nullable=False),
    sa.Column('relevance', sa.SmallInteger(), nullable=False),
    sa.Column('novel', sa.Boolean(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('relevance >= 0 AND relevance <= 100', name=op.f('ck_article_entities_relevance')),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_article_entities_article_id_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('article_id', 'entity_id', name=op.f('pk_article_entities'))
    )
    op.create_index('ix_article_entities_entity_id_published_at', 'article_entities', ['entity_id', 'published_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_article_entities_entity_id_published_at', table_name='article_entities')
    op.drop_table('article_entities')
