"""SQLAlchemy models. Models never commit and never import the engine."""

from app.models import preassigned_ids  # noqa: F401  (the flush hook)
from app.models.absence import Absence
from app.models.appraisal import AwardStatus, Calibration, DecisionVersion, IncentiveAward
from app.models.audit import AuditChainHead, AuditEvent, AuditEventType
from app.models.case import Case, CaseStatus
from app.models.cycle import Cycle, CycleMember, CycleMemberStatus, CycleStatus
from app.models.notification import (
    DeliveryMode,
    Notification,
    NotificationKind,
    NotificationPreference,
    NotificationStatus,
)
from app.models.org import Employee, OrgUnit
from app.models.process_model import ProcessDraft, ProcessModel, ProcessVersion
from app.models.reporting import AppraisalFact, AppraisalKpiMonth, AppraisalMonth
from app.models.security import LoginThrottle, RecoveryCode
from app.models.task import HumanTask, TaskStatus
from app.models.user import ApiToken, Role, User, UserRole

__all__ = [
    "Absence",
    "AppraisalFact",
    "AppraisalKpiMonth",
    "AppraisalMonth",
    "ApiToken",
    "AuditChainHead",
    "AuditEvent",
    "AuditEventType",
    "AwardStatus",
    "Calibration",
    "Case",
    "CaseStatus",
    "Cycle",
    "CycleMember",
    "CycleMemberStatus",
    "CycleStatus",
    "DecisionVersion",
    "DeliveryMode",
    "Employee",
    "HumanTask",
    "LoginThrottle",
    "IncentiveAward",
    "Notification",
    "NotificationKind",
    "NotificationPreference",
    "NotificationStatus",
    "OrgUnit",
    "ProcessDraft",
    "ProcessModel",
    "ProcessVersion",
    "RecoveryCode",
    "Role",
    "TaskStatus",
    "User",
    "UserRole",
]
