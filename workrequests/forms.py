"""Forms of the work request pages: the new request steps and the filters."""

import json
from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone

from models_registry.models import Model
from workrequests.dates import FilterDateField
from workrequests.models import WorkRequest
from workrequests.services import WorkRequestError, check_upload_size
from workrequests.stats import Period

# The stats page groups at most this many days at once.
STATS_MAX_DAYS = 366


def _offer_models(form: forms.Form, models: Any) -> None:
    field = form.fields["model"]
    assert isinstance(field, forms.ModelChoiceField)
    field.queryset = models


class ModelChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Model) -> str:
        return f"{obj.title} ({obj.pk})" if obj.title else obj.pk


class InputsForm(forms.Form):
    """Step one: a model and the inputs, pasted or uploaded, to preview."""

    model = ModelChoiceField(
        queryset=Model.objects.none(),
        empty_label="Choose a model",
        error_messages={"invalid_choice": "Choose one of the models listed."},
    )
    text = forms.CharField(
        label="Paste inputs",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
        help_text="One input per line, or CSV rows with a smiles (or input) "
        "column named in the first row.",
    )
    file = forms.FileField(
        label="Or upload a file",
        required=False,
        help_text="A .csv or .txt file, read by the same rules.",
    )

    def __init__(self, *args: Any, models: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer_models(self, models)

    def clean_file(self) -> bytes | None:
        upload = self.cleaned_data.get("file")
        if upload is None:
            return None
        try:
            check_upload_size(upload.size)
        except WorkRequestError as error:
            raise forms.ValidationError(error.message)
        data: bytes = upload.read()
        return data

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        has_text = bool((cleaned.get("text") or "").strip())
        has_file = cleaned.get("file") is not None
        if "file" in self.errors:
            return cleaned
        if has_text and has_file:
            raise forms.ValidationError(
                "Paste inputs or upload a file, not both.", code="both"
            )
        if not has_text and not has_file:
            raise forms.ValidationError(
                "Paste some inputs or choose a file.", code="none"
            )
        return cleaned


class ConfirmForm(forms.Form):
    """Step two: the inputs the preview accepted, sent back to submit."""

    model = forms.CharField(widget=forms.HiddenInput)
    inputs = forms.CharField(widget=forms.HiddenInput)
    cache_opt_in = forms.BooleanField(
        label="Share these results with the cache",
        required=False,
        help_text="Later requests for the same inputs, by anyone, are then "
        "answered at once. They get the results only, never who asked.",
    )

    def clean_inputs(self) -> list[object]:
        try:
            inputs = json.loads(self.cleaned_data["inputs"])
        except (ValueError, RecursionError):
            inputs = None
        if not isinstance(inputs, list):
            raise forms.ValidationError(
                "The preview could not be read back; preview the inputs again."
            )
        return inputs


def check_date_order(
    form: forms.Form, cleaned: dict[str, Any], first: str, last: str
) -> None:
    start, end = cleaned.get(first), cleaned.get(last)
    if start and end and start > end:
        form.add_error(last, "This date is before the first one.")


class MyRequestsFilter(forms.Form):
    """Filters of My requests, named like the API's so the page can poll it."""

    model = forms.ModelChoiceField(
        queryset=Model.objects.none(),
        required=False,
        empty_label="All models",
        to_field_name="pk",
        error_messages={"invalid_choice": "Choose one of the models listed."},
    )
    status = forms.ChoiceField(
        choices=[("", "All statuses"), *WorkRequest.Status.choices], required=False
    )
    submitted_from = FilterDateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    submitted_to = FilterDateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, models: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer_models(self, models)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        check_date_order(self, cleaned, "submitted_from", "submitted_to")
        return cleaned


class StatsFilter(forms.Form):
    date_from = FilterDateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = FilterDateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    period = forms.ChoiceField(choices=Period.choices, required=False)
    model = forms.ModelChoiceField(
        queryset=Model.objects.order_by("id"),
        required=False,
        empty_label="All models",
        error_messages={"invalid_choice": "Choose one of the models listed."},
    )

    @staticmethod
    def defaults() -> dict[str, str]:
        """The last seven days, today included, by day."""
        today = timezone.localdate()
        return {
            "date_from": (today - timedelta(days=6)).isoformat(),
            "date_to": today.isoformat(),
            "period": Period.DAY.value,
        }

    def clean(self) -> dict[str, Any]:
        """Fill in the last seven days and daily periods where left blank."""
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        date_to = cleaned.get("date_to") or timezone.localdate()
        date_from = cleaned.get("date_from") or date_to - timedelta(days=6)
        cleaned.update(
            date_from=date_from,
            date_to=date_to,
            period=cleaned.get("period") or Period.DAY,
        )
        if date_from > date_to:
            self.add_error("date_to", "This date is before the first one.")
        elif (date_to - date_from).days + 1 > STATS_MAX_DAYS:
            self.add_error(
                "date_to", f"Choose at most {STATS_MAX_DAYS} days at a time."
            )
        return cleaned
