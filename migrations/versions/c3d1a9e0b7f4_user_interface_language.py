"""the interface language each user chose (English or Urdu)

Revision ID: c3d1a9e0b7f4
Revises: 2bdfef08ceb9
Create Date: 2026-11-23 13:20:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c3d1a9e0b7f4'
down_revision = '2bdfef08ceb9'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('locale')
