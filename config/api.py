"""API-wide behaviour shared by every app's endpoints."""

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from rest_framework import parsers, status
from rest_framework.exceptions import ParseError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import DomainError

logger = logging.getLogger(__name__)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with messages that say what is wrong, and nothing more.

    A body nested deeply enough to exhaust Python's recursion limit is a
    client's mistake like any other malformed body, not a server error.
    """

    def parse(
        self, stream: Any, media_type: Any = None, parser_context: Any = None
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("The JSON body is nested too deeply.")
        except ParseError:
            raise ParseError("The body is not valid JSON.")


class PagePagination(PageNumberPagination):
    """Numbered pages of 50 by default; `page_size` asks for up to 200."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Turn domain errors into clear responses and hide everything unexpected.

    DRF's own exceptions (validation, authentication, throttling, 404) keep
    their usual shape. A domain error becomes `{"detail": message}` with its
    status, plus the field it concerns. Anything else is logged with its
    traceback and answered with a generic 500, so no internal text reaches the
    client.
    """
    if isinstance(exc, DomainError):
        body: dict[str, Any] = {"detail": exc.message}
        if exc.field:
            body["field"] = exc.field
        return Response(body, status=exc.http_status)

    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": "The request is too large."},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, SuspiciousOperation):
        # Too many fields, a malformed multipart body and the like.
        return Response(
            {"detail": "The request could not be read."},
            status=status.HTTP_400_BAD_REQUEST,
        )

    response = drf_exception_handler(exc, context)
    if response is not None:
        return response

    view = context.get("view")
    logger.exception("Unhandled API error", extra={"view": type(view).__name__})
    return Response(
        {"detail": "Something went wrong on our side. Please try again later."},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
