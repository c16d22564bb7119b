"""The API's exception handler: Django's request-size refusals answered as JSON.

Django refuses an oversized or overfull form or multipart body while DRF parses it
(RequestDataTooBig past DATA_UPLOAD_MAX_MEMORY_SIZE, TooManyFieldsSent, TooManyFilesSent).
Those are SuspiciousOperation, which DRF's handler leaves to Django: an HTML 400 page on a
JSON API, an answer the schema does not document. Here they become DRF's 400 ParseError,
``{"detail": "..."}`` naming the limit, like every other unreadable body.
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.utils.translation import gettext as _, gettext_noop
from rest_framework.exceptions import ParseError
from rest_framework.views import exception_handler as drf_exception_handler


# DRF's own messages whose Portuguese in its pt_BR catalogue says something else ("Este campo
# pode não estar em branco": it may happen not to be blank) or reads badly. Named here so that
# `make messages` keeps them in our catalogue, which Django reads before DRF's (LOCALE_PATHS).
REWORDED = (
    gettext_noop("This field may not be blank."),
    gettext_noop("This field may not be null."),
    gettext_noop("Not a valid string."),
)


def _refusal(exc: Exception) -> ParseError | None:
    if isinstance(exc, RequestDataTooBig):
        return ParseError(_("The request body is too large (MAX_REQUEST_BYTES)."))
    if isinstance(exc, TooManyFieldsSent):
        return ParseError(_("The request has too many form fields (DATA_UPLOAD_MAX_NUMBER_FIELDS)."))
    if isinstance(exc, TooManyFilesSent):
        return ParseError(_("The request has too many files (DATA_UPLOAD_MAX_NUMBER_FILES)."))
    return None


def exception_handler(exc, context):
    return drf_exception_handler(_refusal(exc) or exc, context)
