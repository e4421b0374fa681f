"""each task knows the process its step belongs to (the called process inside a call activity)

Revision ID: b551fc031595
Revises: d5e8a7c41f02
Create Date: 2026-11-24 09:00:00.000000

Existing rows are backfilled with their case's top-level process key. That is exact for
stand-alone cases (a goal-setting case's steps are goal setting); steps of `annual_appraisal`
cases written before this revision keep `annual_appraisal` (their called process is not
recorded anywhere cheap to read), so an absence limited to "Goal setting" or the queue filtered
by "Goal setting" does not see those older rows: filter by, or limit the absence to, "Annual
appraisal" for them. Tasks created from now on carry the called process.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b551fc031595'
down_revision = 'd5e8a7c41f02'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('process_key', sa.String(length=100), nullable=True))
    # The case's process, for every existing row (one statement; portable SQL).
    op.execute(
        "UPDATE human_tasks SET process_key = ("
        " SELECT process_models.key FROM cases"
        " JOIN process_versions ON process_versions.id = cases.process_version_id"
        " JOIN process_models ON process_models.id = process_versions.process_model_id"
        " WHERE cases.id = human_tasks.case_id)"
    )


def downgrade():
    # A plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): recreating human_tasks, as batch mode
    # would, is refused while notifications and audit events reference its rows.
    with op.batch_alter_table('human_tasks', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('process_key')
