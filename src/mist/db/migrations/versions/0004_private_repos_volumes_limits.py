"""private repositories, resource limits, volumes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 13:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deploy_key_public', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('deploy_key_private', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('git_token', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('cpu_limit', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('memory_limit', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('restart_policy', sa.String(length=16), nullable=False, server_default=''))

    op.create_table('volumes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('app_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('container_path', sa.String(length=1024), nullable=False),
    sa.Column('host_path', sa.String(length=1024), nullable=False),
    sa.Column('read_only', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('app_id', 'name'),
    sa.UniqueConstraint('app_id', 'container_path')
    )
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_volumes_app_id'), ['app_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volumes_app_id'))
    op.drop_table('volumes')
    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.drop_column('restart_policy')
        batch_op.drop_column('memory_limit')
        batch_op.drop_column('cpu_limit')
        batch_op.drop_column('git_token')
        batch_op.drop_column('deploy_key_private')
        batch_op.drop_column('deploy_key_public')
