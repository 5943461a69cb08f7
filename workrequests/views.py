"""The work request pages.

For everyone, registered or not (anonymous visitors through their session):
a new request, in two steps (preview, then submit), the list of one's own
requests, and a request's page with its progress, results and downloads.
For the admin role: the stats and the result cache.

Pages are rendered here in full; `static/js/workrequests.js` keeps them
current while work is active by polling the user API, and reloads the page
when a status changes, so there is one renderer only.
"""

import json
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.identity import owner_for_request
from accounts.roles import admin_required
from accounts.throttling import submission_wait
from models_registry.models import Model
from models_registry.selectors import models_visible_to
from workrequests.cache import cache_clear, cache_summaries
from workrequests.charts import stats_charts
from workrequests.dates import submitted_between
from workrequests.forms import ConfirmForm, InputsForm, MyRequestsFilter, StatsFilter
from workrequests.models import WorkRequest
from workrequests.parsing import LineError, ParsedInputs
from workrequests.results import merged_records, result_columns
from workrequests.selectors import work_request_inputs, work_requests_visible_to
from workrequests.services import (
    WorkRequestConflict,
    WorkRequestError,
    parse_submission,
    work_request_cancel,
    work_request_submit,
)
from workrequests.stats import DURATIONS, StatsRow, work_request_stats
from workrequests.summaries import durations

PAGE_SIZE = 25
PREVIEW_INPUTS = 10
PREVIEW_RESULTS = 10
SHOWN_LINE_ERRORS = 50


def _runnable_models(request: HttpRequest) -> QuerySet[Model]:
    return models_visible_to(request.user).filter(enabled=True)


def _visible_requests(request: HttpRequest) -> QuerySet[WorkRequest]:
    owner = owner_for_request(request, create=False)
    return work_requests_visible_to(owner)


# --- New request ----------------------------------------------------------


@dataclass
class Preview:
    model: Model
    parsed: ParsedInputs
    confirm: ConfirmForm | None
    offers_cache: bool

    @property
    def first_inputs(self) -> list[str]:
        return self.parsed.inputs[:PREVIEW_INPUTS]

    @property
    def shown_errors(self) -> list[LineError]:
        return self.parsed.errors[:SHOWN_LINE_ERRORS]

    @property
    def more_errors(self) -> int:
        return max(0, len(self.parsed.errors) - SHOWN_LINE_ERRORS)


@require_http_methods(["GET", "POST"])
def new_request(request: HttpRequest) -> HttpResponse:
    models = _runnable_models(request)
    if request.method == "POST" and "confirm" in request.POST:
        return _submit(request, models)

    form = InputsForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        models=models,
        initial={"model": request.GET.get("model") or _only_model(models)},
    )
    preview = None
    if form.is_bound and form.is_valid():
        preview = _preview(request, form)
    return _render_new(request, form, models, preview)


def _preview(request: HttpRequest, form: InputsForm) -> Preview | None:
    """What the submission would read, in the words the API would answer."""
    model: Model = form.cleaned_data["model"]
    upload = form.cleaned_data["file"]
    try:
        parsed = parse_submission(
            model=model,
            text=form.cleaned_data["text"] if upload is None else None,
            upload=upload,
        )
    except WorkRequestError as error:
        form.add_error("file" if error.field == "file" else None, error.message)
        return None

    offers_cache = request.user.is_authenticated and model.cache_enabled
    confirm = None
    if parsed.is_valid:
        confirm = ConfirmForm(
            initial={"model": model.pk, "inputs": json.dumps(parsed.inputs)}
        )
    return Preview(
        model=model, parsed=parsed, confirm=confirm, offers_cache=offers_cache
    )


def _submit(request: HttpRequest, models: QuerySet[Model]) -> HttpResponse:
    confirm = ConfirmForm(request.POST)
    if not confirm.is_valid():
        form = InputsForm(models=models, initial={"model": request.POST.get("model")})
        problems = [
            str(error) for errors in confirm.errors.values() for error in errors
        ]
        return _render_new(request, form, models, None, problems=problems)

    wait = submission_wait(request)
    if wait is not None:
        form = InputsForm(models=models, initial={"model": request.POST.get("model")})
        problem = (
            "You have submitted many requests in a short time; try again in "
            f"{math.ceil(wait)} s."
        )
        return _render_new(request, form, models, None, problems=[problem], status=429)

    data = confirm.cleaned_data
    try:
        # The anonymous identity of a first-time visitor is only kept if
        # the request is.
        with transaction.atomic():
            owner = owner_for_request(request, create=True)
            assert owner is not None
            work_request = work_request_submit(
                owner=owner,
                model_id=data["model"],
                inputs=data["inputs"],
                cache_opt_in=data["cache_opt_in"],
            )
    except WorkRequestError as error:
        text = "\n".join(value for value in data["inputs"] if isinstance(value, str))
        form = InputsForm(models=models, initial={"model": data["model"], "text": text})
        return _render_new(request, form, models, None, problems=[error.message])

    if work_request.status == WorkRequest.Status.COMPLETED:
        messages.success(
            request,
            f"Request {work_request.pk} was answered at once: every input was "
            "already in the result cache.",
        )
    else:
        messages.success(
            request,
            f"Request {work_request.pk} is queued with {work_request.input_count} "
            "inputs.",
        )
    return redirect("workrequests:detail", pk=work_request.pk)


def _only_model(models: QuerySet[Model]) -> str | None:
    """With a single model to choose from, it is chosen already."""
    ids = list(models.values_list("pk", flat=True)[:2])
    return ids[0] if len(ids) == 1 else None


def _render_new(
    request: HttpRequest,
    form: InputsForm,
    models: QuerySet[Model],
    preview: Preview | None,
    *,
    problems: list[str] | None = None,
    status: int = 400,
) -> HttpResponse:
    """The new request page; `problems` are why a submission was refused."""
    selected = form["model"].value()
    return render(
        request,
        "workrequests/new.html",
        {
            "form": form,
            "models": list(models),
            "selected_model": str(selected) if selected else "",
            "preview": preview,
            "problems": problems or [],
        },
        status=status if problems else 200,
    )


# --- My requests ----------------------------------------------------------


def my_requests(request: HttpRequest) -> HttpResponse:
    form = MyRequestsFilter(
        request.GET if _has_filters(request) else None,
        models=models_visible_to(request.user),
    )
    requests = _visible_requests(request).order_by("-submitted_at", "-id")
    filters: dict[str, str] = {}
    if form.is_bound:
        if form.is_valid():
            requests, filters = _filtered(requests, form.cleaned_data)
        else:
            requests = requests.none()

    page = Paginator(requests, PAGE_SIZE).get_page(request.GET.get("page"))
    query = {**filters, "page": page.number, "page_size": PAGE_SIZE}
    return render(
        request,
        "workrequests/list.html",
        {
            "form": form,
            "page": page,
            "filters_query": urlencode(filters),
            "any_active": any(item.is_active for item in page),
            "poll_url": f"{reverse('work-request-list')}?{urlencode(query)}",
        },
    )


def _has_filters(request: HttpRequest) -> bool:
    return any(name in request.GET for name in MyRequestsFilter.base_fields)


def _filtered(
    requests: QuerySet[WorkRequest], data: dict[str, Any]
) -> tuple[QuerySet[WorkRequest], dict[str, str]]:
    """The filtered requests, and the filters as the API spells them."""
    filters: dict[str, str] = {}
    if data["model"]:
        requests = requests.filter(model=data["model"])
        filters["model"] = data["model"].pk
    if data["status"]:
        requests = requests.filter(status=data["status"])
        filters["status"] = data["status"]
    requests = submitted_between(requests, data["submitted_from"], data["submitted_to"])
    for name in ("submitted_from", "submitted_to"):
        if data[name]:
            filters[name] = data[name].isoformat()
    return requests, filters


# --- One request ----------------------------------------------------------


def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    work_request = get_object_or_404(
        _visible_requests(request).select_related("model"), pk=pk
    )
    inputs = work_request_inputs(work_request)
    seconds = durations(work_request)
    base = reverse("work-request-result", args=[work_request.pk])
    return render(
        request,
        "workrequests/detail.html",
        {
            "work_request": work_request,
            "timings": [
                ("Queued", work_request.submitted_at),
                ("Instance ready", work_request.instance_ready_at),
                ("Job submitted", work_request.processing_at),
                ("Finished", work_request.finished_at),
            ],
            "durations": [
                (label, seconds[name]) for name, (label, _, _) in DURATIONS.items()
            ],
            "preview": _result_preview(work_request, inputs),
            "csv_url": f"{base}?format=csv",
            "json_url": f"{base}?format=json",
            "poll_url": reverse("work-request-detail", args=[work_request.pk]),
        },
    )


def _result_preview(
    work_request: WorkRequest, inputs: list[str]
) -> dict[str, Any] | None:
    """The first results stored, in input order, as a small table."""
    records = merged_records(work_request)
    shown = [
        (inputs[position], record)
        for position, record in enumerate(records)
        if record is not None
    ][:PREVIEW_RESULTS]
    if not shown:
        return None
    # The error sits beside the input here, where a reader looks first; the
    # downloads keep it last.
    columns = result_columns(
        work_request.model.output_columns, [record for _, record in shown]
    )
    columns = [columns[0], columns[-1], *columns[1:-1]]
    rows = [
        {
            "cells": [value, *(_cell(record.get(name)) for name in columns[1:])],
            "failed": bool(record.get("error")),
        }
        for value, record in shown
    ]
    return {"columns": columns, "rows": rows, "total": len(records)}


def _cell(value: Any) -> str:
    """A value as the preview shows it: floats to six significant digits."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@require_http_methods(["GET", "POST"])
def request_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask before cancelling; cancel on the confirming POST."""
    work_request = get_object_or_404(_visible_requests(request), pk=pk)
    if request.method == "POST":
        try:
            work_request_cancel(work_request=work_request)
        except WorkRequestConflict as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Request {work_request.pk} was cancelled.")
        return redirect("workrequests:detail", pk=work_request.pk)

    if not work_request.is_active:
        messages.info(
            request,
            "This request has already ended "
            f"({work_request.get_status_display().lower()}); there is nothing "
            "to cancel.",
        )
        return redirect("workrequests:detail", pk=work_request.pk)
    return render(request, "workrequests/cancel.html", {"work_request": work_request})


# --- Admin role -----------------------------------------------------------


@admin_required
def stats_page(request: HttpRequest) -> HttpResponse:
    form = StatsFilter(request.GET or StatsFilter.defaults())
    rows = []
    if form.is_valid():
        data = form.cleaned_data
        rows = work_request_stats(
            date_from=data["date_from"],
            date_to=data["date_to"],
            period=data["period"],
            model_ids=[data["model"].pk] if data["model"] else [],
        )
    return render(
        request,
        "workrequests/stats.html",
        {
            "form": form,
            "table": [_stats_cells(row) for row in rows],
            "duration_labels": [label for label, _, _ in DURATIONS.values()],
            "statuses": WorkRequest.Status.choices,
            "charts": stats_charts(rows),
        },
    )


def _stats_cells(row: StatsRow) -> dict[str, Any]:
    return {
        "row": row,
        "counts": [row.counts[status] for status in WorkRequest.Status.values],
        "durations": [
            (row.durations[name]["p50"], row.durations[name]["p95"])
            for name in DURATIONS
        ],
        "hit_percent": None if row.hit_rate is None else row.hit_rate * 100,
    }


@admin_required
def cache_page(request: HttpRequest) -> HttpResponse:
    summaries = cache_summaries(models=list(Model.objects.order_by("id")))
    return render(request, "workrequests/cache.html", {"summaries": summaries})


@admin_required
@require_http_methods(["GET", "POST"])
def cache_clear_page(request: HttpRequest, model_id: str) -> HttpResponse:
    """Ask before clearing a model's cache; clear on the confirming POST."""
    model = get_object_or_404(Model, pk=model_id)
    if request.method == "POST":
        deleted = cache_clear(model=model, actor=request.user)
        messages.success(request, f"Cleared {deleted} cached results of {model.pk}.")
        return redirect("workrequests:cache")

    summary = cache_summaries(models=[model])[0]
    return render(
        request,
        "workrequests/cache_clear.html",
        {"model": model, "summary": summary},
    )
