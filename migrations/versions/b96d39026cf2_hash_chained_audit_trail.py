"""hash-chained audit trail

Existing events (if any) are chained in id order with the canonical form of version 1 of the
chain, frozen here so later changes to the application cannot change what this migration did.

Revision ID: b96d39026cf2
Revises: a04964a5414d
Create Date: 2026-11-23 09:05:26.844647

"""
import hashlib
import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b96d39026cf2'
down_revision = 'a04964a5414d'
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64


def _utc_iso(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hash(row, seq, prev_hash):
    details = row.details
    if isinstance(details, str):
        details = json.loads(details)
    content = {
        "seq": seq, "prev_hash": prev_hash, "occurred_at": _utc_iso(row.occurred_at),
        "event_type": row.event_type, "actor_id": row.actor_id,
        "on_behalf_of_id": row.on_behalf_of_id, "case_id": row.case_id,
        "human_task_id": row.human_task_id, "details": details or {},
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def upgrade():
    op.create_table('audit_chain_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))

    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT id, occurred_at, event_type, actor_id, on_behalf_of_id, case_id, human_task_id,"
        " details FROM audit_events ORDER BY id")).fetchall()
    seq, prev_hash = 0, GENESIS_HASH
    for row in rows:
        seq += 1
        digest = _hash(row, seq, prev_hash)
        connection.execute(
            sa.text("UPDATE audit_events SET seq = :seq, prev_hash = :prev, hash = :hash"
                    " WHERE id = :id"),
            {"seq": seq, "prev": prev_hash, "hash": digest, "id": row.id})
        prev_hash = digest
    connection.execute(sa.text("INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, :s, :h)"),
                       {"s": seq, "h": prev_hash})

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint('uq_audit_events_seq', ['seq'])


def downgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_constraint('uq_audit_events_seq', type_='unique')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')
    op.drop_table('audit_chain_head')
