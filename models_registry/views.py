from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from models_registry.selectors import models_visible_to

MODELS_PER_PAGE = 25


def model_list(request: HttpRequest) -> HttpResponse:
    """The models a visitor can run, in words rather than JSON."""
    models = models_visible_to(request.user).filter(enabled=True).order_by("title")
    page = Paginator(models, MODELS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "models_registry/list.html", {"page": page})
