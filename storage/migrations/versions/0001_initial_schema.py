"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-29

Articles with their sentiment and topics, per-topic time buckets, alerts, the webhook
outbox and source health. Reviewed by hand: constraint names follow the naming
convention in storage.models; timestamps are timezone-aware everywhere.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('fingerprint', sa.String(length=200), nullable=False),
    sa.Column('rule', sa.String(length=100), nullable=False),
    sa.Column('topic', sa.String(length=100), nullable=False),
    sa.Column('severity', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('baseline', sa.Float(), nullable=True),
    sa.Column('threshold', sa.Float(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.CheckConstraint("status IN ('firing', 'resolved')", name=op.f('ck_alerts_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('fingerprint', 'starts_at', name=op.f('uq_alerts_fingerprint_starts_at'))
    )
    op.create_index('ix_alerts_starts_at', 'alerts', ['starts_at'], unique=False)
    op.create_index('ix_alerts_status_starts_at', 'alerts', ['status', 'starts_at'], unique=False)
    op.create_table('articles',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lang', sa.String(length=16), nullable=True),
    sa.Column('tickers', sa.JSON(), nullable=False),
    sa.Column('duplicate_of', sa.String(length=128), nullable=True),
    sa.Column('stored_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_articles'))
    )
    op.create_index(op.f('ix_articles_duplicate_of'), 'articles', ['duplicate_of'], unique=False)
    op.create_index('ix_articles_published_at', 'articles', ['published_at'], unique=False)
    op.create_index('ix_articles_source_published_at', 'articles', ['source', 'published_at'], unique=False)
    op.create_table('source_health',
    sa.Column('feed', sa.String(length=200), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('last_fetch_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('items_seen', sa.Integer(), nullable=False),
    sa.Column('items_new', sa.Integer(), nullable=False),
    sa.Column('items_duplicate', sa.Integer(), nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('feed', name=op.f('pk_source_health'))
    )
    op.create_table('topic_buckets',
    sa.Column('topic', sa.String(length=100), nullable=False),
    sa.Column('width_s', sa.Integer(), nullable=False),
    sa.Column('bucket_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('n_negative', sa.Integer(), nullable=False),
    sa.Column('n_neutral', sa.Integer(), nullable=False),
    sa.Column('n_positive', sa.Integer(), nullable=False),
    sa.Column('polarity_sum', sa.Float(), nullable=False),
    sa.CheckConstraint('n_negative >= 0 AND n_neutral >= 0 AND n_positive >= 0', name=op.f('ck_topic_buckets_counts')),
    sa.CheckConstraint('width_s > 0', name=op.f('ck_topic_buckets_width_positive')),
    sa.PrimaryKeyConstraint('topic', 'width_s', 'bucket_start', name=op.f('pk_topic_buckets'))
    )
    op.create_index('ix_topic_buckets_width_s_bucket_start', 'topic_buckets', ['width_s', 'bucket_start'], unique=False)
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('receiver', sa.String(length=100), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'delivered', 'failed', 'disabled')", name=op.f('ck_webhook_deliveries_status')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_webhook_deliveries_attempts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
    sa.UniqueConstraint('event_id', 'receiver', name=op.f('uq_webhook_deliveries_event_id_receiver'))
    )
    op.create_index('ix_webhook_deliveries_status_next_attempt_at', 'webhook_deliveries', ['status', 'next_attempt_at'], unique=False)
    op.create_table('article_sentiment',
    sa.Column('article_id', sa.String(length=128), nullable=False),
    sa.Column('label', sa.String(length=8), nullable=False),
    sa.Column('p_negative', sa.Float(), nullable=False),
    sa.Column('p_neutral', sa.Float(), nullable=False),
    sa.Column('p_positive', sa.Float(), nullable=False),
    sa.Column('polarity', sa.Float(), nullable=False),
    sa.Column('model_name', sa.String(length=200), nullable=False),
    sa.Column('model_revision', sa.String(length=100), nullable=False),
    sa.Column('scored_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("label IN ('negative', 'neutral', 'positive')", name=op.f('ck_article_sentiment_label')),
    sa.CheckConstraint('p_negative >= 0 AND p_negative <= 1 AND p_neutral >= 0 AND p_neutral <= 1 AND p_positive >= 0 AND p_positive <= 1', name=op.f('ck_article_sentiment_probabilities')),
    sa.CheckConstraint('polarity >= -1 AND polarity <= 1', name=op.f('ck_article_sentiment_polarity')),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_article_sentiment_article_id_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('article_id', name=op.f('pk_article_sentiment'))
    )
    op.create_index('ix_article_sentiment_label', 'article_sentiment', ['label'], unique=False)
    op.create_table('article_topics',
    sa.Column('article_id', sa.String(length=128), nullable=False),
    sa.Column('topic', sa.String(length=100), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_article_topics_article_id_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('article_id', 'topic', name=op.f('pk_article_topics'))
    )
    op.create_index('ix_article_topics_topic_published_at', 'article_topics', ['topic', 'published_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_article_topics_topic_published_at', table_name='article_topics')
    op.drop_table('article_topics')
    op.drop_index('ix_article_sentiment_label', table_name='article_sentiment')
    op.drop_table('article_sentiment')
    op.drop_index('ix_webhook_deliveries_status_next_attempt_at', table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    op.drop_index('ix_topic_buckets_width_s_bucket_start', table_name='topic_buckets')
    op.drop_table('topic_buckets')
    op.drop_table('source_health')
    op.drop_index('ix_articles_source_published_at', table_name='articles')
    op.drop_index('ix_articles_published_at', table_name='articles')
    op.drop_index(op.f('ix_articles_duplicate_of'), table_name='articles')
    op.drop_table('articles')
    op.drop_index('ix_alerts_status_starts_at', table_name='alerts')
    op.drop_index('ix_alerts_starts_at', table_name='alerts')
    op.drop_table('alerts')
