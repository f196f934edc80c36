"""One error shape for the whole API, and how service and Stripe failures map onto it.

Every error answers:

    {"error": {"status": 409, "code": "conflict", "message": "...", "fields": {"amount": ["..."]}}}

`message` is safe to show the customer; `fields` is present (possibly empty) on every error and
names the offending input fields for 400s.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from payments import services, stripe_client

logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class BadGateway(exceptions.APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The payment provider refused the request."
    default_code = "payment_provider_error"


class ProviderUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The payment provider is unavailable. Please try again in a moment."
    default_code = "payment_provider_unavailable"


def _translate(exc: Exception) -> Exception:
    if isinstance(exc, ObjectDoesNotExist | Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, services.RefundPending):
        return ProviderUnavailable(str(exc))
    if isinstance(exc, services.RefundRefused):
        return BadGateway(str(exc))
    if isinstance(exc, services.RefundAmountInvalid):
        return exceptions.ValidationError({"amount": [str(exc)]})
    if isinstance(exc, services.RefundApproverIsRequester):
        return exceptions.PermissionDenied(str(exc))
    if isinstance(exc, services.ServiceError):
        if isinstance(
            exc,
            services.OrderNotPayable
            | services.CheckoutConflict
            | services.RefundNotAllowed
            | services.RefundExceedsRemaining
            | services.RefundTokenReused
            | services.RefundStale
            | services.RefundStillWaiting
            | services.RefundNotAwaitingApproval
            | services.RefundRejected,
        ):
            return Conflict(str(exc))
        return exceptions.ValidationError({"non_field_errors": [str(exc)]})
    if isinstance(exc, stripe_client.IdempotencyConflict):
        return Conflict("A request for this with different details is already in progress.")
    if isinstance(exc, stripe_client.PaymentProviderError):
        logger.warning("Stripe error %s (%s): %s", type(exc).__name__, exc.code, exc)
        if isinstance(
            exc,
            stripe_client.ProviderUnavailable
            | stripe_client.RateLimited
            | stripe_client.AuthenticationFailed,
        ):
            return ProviderUnavailable(exc.user_message)
        return BadGateway(exc.user_message)
    return exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = _translate(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's 500 handling (and logging) takes over
    fields: dict[str, list[str]] = {}
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            fields = {key: _messages(value) for key, value in detail.items()}
            non_field = fields.pop("non_field_errors", [])
            message = non_field[0] if non_field else "Invalid input: see fields."
        else:
            messages = _messages(detail)
            message = messages[0] if messages else "Invalid input."
        code = "invalid"
    else:
        message = str(getattr(exc, "detail", "Error."))
        code = str(
            getattr(getattr(exc, "detail", None), "code", None)
            or getattr(exc, "default_code", "error")
        )
    response.data = {
        "error": {
            "status": response.status_code,
            "code": code,
            "message": message,
            "fields": fields,
        }
    }
    return response


def _messages(value: Any) -> list[str]:
    if isinstance(value, list):
        return [m for item in value for m in _messages(item)]
    if isinstance(value, dict):
        return [f"{k}: {m}" for k, v in value.items() for m in _messages(v)]
    return [str(value)]
