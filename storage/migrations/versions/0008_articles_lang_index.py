"""articles by language

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

An index on ``articles (lang, published_at)``: the dashboard's and the API's language
filter reads one language's newest articles, and the languages present are listed by
one index probe each (issue 26: every article now has a language).
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        'ix_articles_lang_published_at', 'articles', ['lang', 'published_at'], unique=False
    )


def downgrade() -> None:
    op.drop_index('ix_articles_lang_published_at', table_name='articles')
