"""replicas: how many copies of an app run (Swarm mode; always 1 on one engine and for databases)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-09 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('apps') as batch:
        batch.add_column(sa.Column('replicas', sa.Integer(), nullable=False, server_default='1'))


def downgrade() -> None:
    with op.batch_alter_table('apps') as batch:
        batch.drop_column('replicas')
