"""SQLAlchemy models. Models never commit and never import the engine."""

from app.models.audit import AuditChainHead, AuditEvent, AuditEventType
from app.models.case import Case, CaseStatus
from app.models.org import Employee, OrgUnit
from app.models.process_model import ProcessDraft, ProcessModel, ProcessVersion
from app.models.task import HumanTask, TaskStatus
from app.models.user import ApiToken, Role, User, UserRole

__all__ = [
    "ApiToken",
    "AuditChainHead",
    "AuditEvent",
    "AuditEventType",
    "Case",
    "CaseStatus",
    "Employee",
    "HumanTask",
    "OrgUnit",
    "ProcessDraft",
    "ProcessModel",
    "ProcessVersion",
    "Role",
    "TaskStatus",
    "User",
    "UserRole",
]
