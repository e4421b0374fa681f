"""My tasks, and the form of one task."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.i18n import translated
from app.services import tasks
from app.services.errors import ValidationFailed

bp = Blueprint("tasks", __name__)


@bp.route("/")
@login_required
def home():  # noqa: ANN201
    return redirect(url_for("tasks.my_tasks"))


@bp.route("/tasks")
@login_required
def my_tasks():  # noqa: ANN201
    return render_template("tasks/list.html", tasks=tasks.my_tasks(current_user))


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
@login_required
def task_detail(task_id: int):  # noqa: ANN201
    if request.method == "POST":
        # complete_task checks who may act and that the task still waits; the page's view (a
        # second load of the workflow) is only built to show the form again.
        try:
            task = tasks.complete_task(current_user, task_id, request.form)
        except ValidationFailed as exc:
            view = tasks.task_form_view(current_user, task_id)
            form = view.form_class(view.form_class.prepare_formdata(request.form))
            form.validate()
            flash(translated(exc.message), "error")
            return _render(view, form), 422
        flash(_("“%(task)s” completed.", task=task.title), "success")
        return redirect(url_for("cases.case_detail", case_id=task.case_id))
    view = tasks.task_form_view(current_user, task_id)
    form = view.form_class(data=view.initial_data)
    return _render(view, form), 200


def _render(view: tasks.TaskFormView, form: object) -> str:
    return render_template(
        view.form_class.template,
        task=view.task,
        case=view.task.case,
        case_data=view.case_data,
        form=form,
        spare_rows=max(0, 8 - len(getattr(getattr(form, "kpis", None), "entries", []) or [])),
    )
