"""The approver's queue, bulk approval, and moving one task: claim, unclaim, delegate, hand back,
recall, reassign."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import InputRequired, Length

from app.blueprints.people import PersonField
from app.extensions import db
from app.i18n import N_, translated
from app.models import HumanTask
from app.services import delegation, queues
from app.services.assignment import may_act_on
from app.services.errors import Message, NotFound, ServiceError

bp = Blueprint("queues", __name__)


class DelegateForm(FlaskForm):
    delegate = PersonField(_l("Delegate to"), validators=[InputRequired()])
    note = TextAreaField(_l("Note for your colleague"), [InputRequired(), Length(max=2000)])


class ReassignForm(FlaskForm):
    assignee = PersonField(_l("New assignee"), validators=[InputRequired()])
    reason = TextAreaField(_l("Reason"), [InputRequired(), Length(max=2000)])


def _task(task_id: int) -> HumanTask:
    task = db.session.get(HumanTask, task_id)
    if task is None:
        raise NotFound(Message(N_("No task %(id)s."), id=task_id))
    return task


def _back(default: str) -> Any:
    target = request.form.get("next") or ""
    # Only local paths: never redirect off the site.
    return redirect(target if target.startswith("/") and not target.startswith("//") else default)


@bp.app_context_processor
def task_moves() -> dict[str, Any]:
    def moves(task: HumanTask) -> dict[str, bool]:
        if not current_user.is_authenticated:
            return {}
        return {
            "delegate": delegation.may_delegate(current_user, task),
            "hand_back": delegation.may_hand_back(current_user, task),
            "unclaim": task.candidate_role is not None and task.owner_id == current_user.id,
            "reassign": delegation.can_reassign(current_user, task),
        }

    return {"task_moves": moves}


@bp.route("/queue")
@login_required
def queue():  # noqa: ANN201
    filters = queues.QueueFilters.from_args(request.args)
    page = queues.queue_page(current_user, filters)
    return render_template(
        "queues/queue.html", page=page, filters=filters, choices=queues.filter_choices(),
        delegated=delegation.delegated_by(current_user), supports_bulk=queues.supports_bulk,
        args={k: v for k, v in request.args.items() if k != "page"},
    )


@bp.post("/queue/bulk")
@login_required
def bulk():  # noqa: ANN201
    ids = [int(v) for v in request.form.getlist("task_ids") if v.isdigit()]
    try:
        result = queues.bulk_complete(current_user, ids, request.form.get("action", ""),
                                      request.form.get("comment"))
    except ServiceError as exc:
        flash(translated(exc.message), "error")
        return _back(url_for("queues.queue"))
    return render_template("queues/bulk_result.html", result=result)


@bp.post("/tasks/<int:task_id>/claim")
@login_required
def claim(task_id: int):  # noqa: ANN201
    try:
        task = delegation.claim_task(current_user, task_id)
    except ServiceError as exc:
        flash(translated(exc.message), "error")
        return _back(url_for("queues.queue"))
    flash(_("You claimed “%(task)s”.", task=task.title), "success")
    return _back(url_for("queues.queue"))


@bp.post("/tasks/<int:task_id>/unclaim")
@login_required
def unclaim(task_id: int):  # noqa: ANN201
    try:
        task = delegation.unclaim_task(current_user, task_id)
    except ServiceError as exc:
        flash(translated(exc.message), "error")
        return _back(url_for("queues.queue"))
    flash(_("“%(task)s” is back in the pool.", task=task.title), "success")
    return redirect(url_for("queues.queue"))


@bp.route("/tasks/<int:task_id>/delegate", methods=["GET", "POST"])
@login_required
def delegate(task_id: int):  # noqa: ANN201
    task = _task(task_id)
    if not delegation.may_delegate(current_user, task):
        return render_template("errors/error.html", code=403,
                               message=_("Only the task's owner can delegate it.")), 403
    form = DelegateForm()
    status = 200
    if form.validate_on_submit():
        try:
            delegation.delegate_task(current_user, task_id, form.delegate.data, form.note.data)
        except ServiceError as exc:
            flash(translated(exc.message), "error")
            status = exc.status_code
        else:
            flash(_("“%(task)s” delegated.", task=task.title), "success")
            return redirect(url_for("queues.queue"))
    elif form.errors:
        status = 400
    return render_template("queues/delegate.html", form=form, task=task), status


@bp.post("/tasks/<int:task_id>/hand-back")
@login_required
def hand_back(task_id: int):  # noqa: ANN201
    try:
        task = delegation.hand_back_task(current_user, task_id, request.form.get("note"))
    except ServiceError as exc:
        flash(translated(exc.message), "error")
        return _back(url_for("queues.queue"))
    flash(_("“%(task)s” handed back.", task=task.title), "success")
    return redirect(url_for("queues.queue"))


@bp.post("/tasks/<int:task_id>/recall")
@login_required
def recall(task_id: int):  # noqa: ANN201
    try:
        task = delegation.recall_task(current_user, task_id)
    except ServiceError as exc:
        flash(translated(exc.message), "error")
        return _back(url_for("queues.queue"))
    flash(_("“%(task)s” recalled: it is with you again.", task=task.title), "success")
    return redirect(url_for("queues.queue"))


@bp.route("/tasks/<int:task_id>/reassign", methods=["GET", "POST"])
@login_required
def reassign(task_id: int):  # noqa: ANN201
    task = _task(task_id)
    if not delegation.can_reassign(current_user, task):
        return render_template("errors/error.html", code=403, message=_(
            "Only an administrator or HR of the employee's unit can reassign tasks.")), 403
    form = ReassignForm()
    status = 200
    if form.validate_on_submit():
        try:
            delegation.reassign_task(current_user, task_id, form.assignee.data, form.reason.data)
        except ServiceError as exc:
            flash(translated(exc.message), "error")
            status = exc.status_code
        else:
            flash(_("“%(task)s” reassigned.", task=task.title), "success")
            return redirect(url_for("cases.case_detail", case_id=task.case_id))
    elif form.errors:
        status = 400
    return render_template("queues/reassign.html", form=form, task=task,
                           may_act=may_act_on(current_user, task)), status
