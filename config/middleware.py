"""Middleware that belongs to the platform as a whole."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

TOO_LARGE = "The request is too large."


class RequestSizeLimitMiddleware:
    """Refuse a request whose declared body is over MAX_REQUEST_BYTES.

    Django would otherwise stream an upload of any size to disk before a
    view could look at it. Bodies sent without a length are capped by the
    upload limits further on.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BYTES:
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": TOO_LARGE}, status=413)
            return HttpResponse(TOO_LARGE, status=413, content_type="text/plain")
        return self.get_response(request)
