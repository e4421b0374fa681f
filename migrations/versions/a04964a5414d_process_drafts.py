"""process drafts; a version's content hash may repeat (rollback)

Process owners edit a draft per process in the browser modeler; deploying it makes a version.
A rollback deploys an older version's XML again as a new version, so the unique constraint on
(process_model_id, content_hash) becomes a plain index.

Revision ID: a04964a5414d
Revises: e7c17372a4be
Create Date: 2026-11-23 09:00:07.672819

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a04964a5414d'
down_revision = 'e7c17372a4be'
branch_labels = None
depends_on = None

# The foundation created the unique constraints unnamed: find the one to drop by its columns
# (PostgreSQL named it itself); SQLite rebuilds the table, with names from this convention.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_N_name)s"}
HASH_COLUMNS = ["process_model_id", "content_hash"]


def _drop_hash_unique() -> None:
    bind = op.get_bind()
    names = [
        uc["name"] for uc in sa.inspect(bind).get_unique_constraints("process_versions")
        if uc["column_names"] == HASH_COLUMNS
    ]
    if bind.dialect.name != "sqlite":
        for name in names:
            op.drop_constraint(name, "process_versions", type_="unique")
        return
    with op.batch_alter_table("process_versions", naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint(
            names[0] if names and names[0] else
            "uq_process_versions_process_model_id_content_hash",
            type_="unique",
        )


def upgrade():
    op.create_table('process_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('process_key', sa.String(length=100), nullable=False),
    sa.Column('bpmn_xml', sa.Text(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('base_version_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['base_version_id'], ['process_versions.id'], ),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('process_key')
    )
    _drop_hash_unique()
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.create_index(
            'ix_process_versions_model_hash', ['process_model_id', 'content_hash'], unique=False
        )


def downgrade():
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_process_versions_model_hash')
        batch_op.create_unique_constraint(
            'uq_process_versions_process_model_id_content_hash',
            ['process_model_id', 'content_hash'],
        )
    op.drop_table('process_drafts')
