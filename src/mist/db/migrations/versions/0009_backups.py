"""backups: destinations, backups and restores, and the database apps' schedule fields

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('apps') as batch:
        batch.add_column(sa.Column('backup_schedule', sa.String(length=100), nullable=False, server_default=''))
        batch.add_column(sa.Column('backup_retention', sa.Integer(), nullable=False, server_default='7'))
        batch.add_column(sa.Column('backup_destination_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('backup_schedule_since', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('backup_missed_at', sa.DateTime(), nullable=True))
    op.create_table(
        'backup_destinations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('endpoint', sa.String(length=500), nullable=False),
        sa.Column('bucket', sa.String(length=63), nullable=False),
        sa.Column('region', sa.String(length=64), nullable=False, server_default=''),
        sa.Column('prefix', sa.String(length=500), nullable=False, server_default=''),
        sa.Column('access_key', sa.String(length=200), nullable=False),
        sa.Column('secret_key', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
    )
    op.create_table(
        'backups',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('app_id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('app_name', sa.String(length=63), nullable=False),
        sa.Column('engine', sa.String(length=32), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False, server_default='pending'),
        sa.Column('trigger', sa.String(length=16), nullable=False),
        sa.Column('job', sa.String(length=16), nullable=False, server_default='backup'),
        sa.Column('size_bytes', sa.BigInteger(), nullable=False, server_default='0'),
        sa.Column('sha256', sa.String(length=64), nullable=False, server_default=''),
        sa.Column('destination_id', sa.Integer(), nullable=True),
        sa.Column('location', sa.Text(), nullable=False, server_default=''),
        sa.Column('name', sa.String(length=255), nullable=False, server_default=''),
        sa.Column('verified', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('error', sa.Text(), nullable=False, server_default=''),
        sa.Column('scheduled_for', sa.DateTime(), nullable=True),
        sa.Column('claimed_by', sa.String(length=64), nullable=False, server_default=''),
        sa.Column('lease_until', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('app_id', 'scheduled_for'),
    )
    op.create_index('ix_backups_app_id', 'backups', ['app_id'])
    op.create_index('ix_backups_project_id', 'backups', ['project_id'])
    op.create_index('ix_backups_due', 'backups', ['status', 'id'])
    op.create_table(
        'restores',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('backup_id', sa.Integer(), nullable=False),
        sa.Column('app_id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False, server_default='pending'),
        sa.Column('before_backup_id', sa.Integer(), nullable=True),
        sa.Column('error', sa.Text(), nullable=False, server_default=''),
        sa.Column('log', sa.Text(), nullable=False, server_default=''),
        sa.Column('claimed_by', sa.String(length=64), nullable=False, server_default=''),
        sa.Column('lease_until', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_restores_backup_id', 'restores', ['backup_id'])
    op.create_index('ix_restores_app_id', 'restores', ['app_id'])
    op.create_index('ix_restores_due', 'restores', ['status', 'id'])


def downgrade() -> None:
    op.drop_table('restores')
    op.drop_table('backups')
    op.drop_table('backup_destinations')
    with op.batch_alter_table('apps') as batch:
        for column in ('backup_missed_at', 'backup_schedule_since', 'backup_destination_id',
                       'backup_retention', 'backup_schedule'):
            batch.drop_column(column)
