"""zero downtime, rollback, domains

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 11:02:47.849089
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('domains',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('app_id', sa.Integer(), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('domain')
    )
    with op.batch_alter_table('domains', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_domains_app_id'), ['app_id'], unique=False)

    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('update_strategy', sa.String(length=16), nullable=False, server_default='rolling'))
        batch_op.add_column(sa.Column('healthcheck_path', sa.String(length=1024), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('healthcheck_interval', sa.Integer(), nullable=False, server_default='2'))
        batch_op.add_column(sa.Column('healthcheck_timeout', sa.Integer(), nullable=False, server_default='5'))
        batch_op.add_column(sa.Column('healthcheck_retries', sa.Integer(), nullable=False, server_default='15'))
        batch_op.add_column(sa.Column('healthcheck_start_period', sa.Integer(), nullable=False, server_default='0'))

    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rollback_of', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('snapshot', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('image_removed', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_foreign_key('fk_deployments_rollback_of', 'deployments', ['rollback_of'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.drop_constraint('fk_deployments_rollback_of', type_='foreignkey')
        batch_op.drop_column('image_removed')
        batch_op.drop_column('snapshot')
        batch_op.drop_column('rollback_of')

    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.drop_column('healthcheck_start_period')
        batch_op.drop_column('healthcheck_retries')
        batch_op.drop_column('healthcheck_timeout')
        batch_op.drop_column('healthcheck_interval')
        batch_op.drop_column('healthcheck_path')
        batch_op.drop_column('update_strategy')

    with op.batch_alter_table('domains', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_domains_app_id'))

    op.drop_table('domains')
