"""Process models and their immutable, numbered versions.

A case pins the version it started on; deploying a new version never touches running cases.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import utcnow

if TYPE_CHECKING:
    from app.models.user import User


class ProcessModel(db.Model):
    __tablename__ = "process_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)  # the BPMN process id
    name: Mapped[str] = mapped_column(String(200))

    versions: Mapped[list[ProcessVersion]] = relationship(
        back_populates="process_model", order_by="ProcessVersion.version"
    )


class ProcessVersion(db.Model):
    __tablename__ = "process_versions"
    # Content hashes repeat on purpose: a rollback deploys an older version's XML again as a
    # new version, so (process, hash) is looked up, not unique.
    __table_args__ = (
        UniqueConstraint("process_model_id", "version"),
        Index("ix_process_versions_model_hash", "process_model_id", "content_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_model_id: Mapped[int] = mapped_column(ForeignKey("process_models.id"), index=True)
    version: Mapped[int]
    bpmn_xml: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    source_name: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    deployed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    deployed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The exact versions its call activities and business-rule tasks run, pinned at deploy:
    # {"processes": {key: process_version_id}, "decisions": {key: decision_version_id},
    #  "bundle_hash": ...}; empty for a diagram that calls nothing.
    dependencies: Mapped[dict | None] = mapped_column(JSON)

    process_model: Mapped[ProcessModel] = relationship(back_populates="versions")
    deployed_by: Mapped[User | None] = relationship()


class ProcessDraft(db.Model):
    """The diagram a process owner is editing: one per process, overwritten on each save, never
    run. Deploying it makes a ProcessVersion. Keyed by process key, not by ProcessModel, so a
    draft can also be a process that has no version yet."""

    __tablename__ = "process_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100), unique=True)
    bpmn_xml: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    # The version the owner started from: deploying over a newer version is refused.
    base_version_id: Mapped[int | None] = mapped_column(ForeignKey("process_versions.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    base_version: Mapped[ProcessVersion | None] = relationship()
    updated_by: Mapped[User | None] = relationship()
