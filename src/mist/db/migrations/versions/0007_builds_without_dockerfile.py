"""builds without a Dockerfile: the app's builder and its build, start and release commands

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 16:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('builder', sa.String(length=16), nullable=False, server_default='auto'))
        batch_op.add_column(sa.Column('build_command', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('start_command', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('release_command', sa.Text(), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('apps', schema=None) as batch_op:
        for column in ('release_command', 'start_command', 'build_command', 'builder'):
            batch_op.drop_column(column)
