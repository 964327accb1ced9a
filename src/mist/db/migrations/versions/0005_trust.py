"""trust between team members: disabled users, a single owner, git tokens bound to their origin

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 11:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index('uq_users_one_owner', 'users', ['role'], unique=True,
                    sqlite_where=sa.text("role = 'owner'"), postgresql_where=sa.text("role = 'owner'"))
    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('git_token_origin', sa.String(length=300), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.drop_column('git_token_origin')
    op.drop_index('uq_users_one_owner', table_name='users')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('disabled')
