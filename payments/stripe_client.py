"""The single door to Stripe: the only module in the project that imports `stripe`.

Services call these keyword-only functions; none of them sees a `stripe` exception. Amounts go in
as `Decimal` + currency and cross to Stripe in minor units through `payments.money`. Every write
takes an idempotency key derived from our own rows (`customer-user-<id>`, `payment-<id>-pi-<n>`,
`refund-<id>`), so a retry after a timeout never creates a second customer, charge or refund.

Every failed call is classified here, once, by what its HTTP attempts (the SDK retries network
failures and 5xx with the same idempotency key) may have done at Stripe: the exception's
`outcome` is `REFUSED` (Stripe answered no, and no attempt can have acted), `UNSENT` (nothing
ran: Stripe was not reached, or said it did not run the request: 429, 401), or `UNKNOWN` (an
attempt may have acted: a timeout after sending, a 5xx, a 409 while another request with the key
runs). Services free money only on `REFUSED`; `UNKNOWN` is settled by asking Stripe.

The `stripe.StripeClient` is built from settings (`STRIPE_SECRET_KEY`, `STRIPE_API_BASE`,
`STRIPE_TIMEOUT_SECONDS`, `STRIPE_MAX_NETWORK_RETRIES`) and rebuilt whenever they change, so tests
can point it at the offline stand-in (stripe_sandbox) with `settings` overrides.
"""

from __future__ import annotations

import contextvars
import functools
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, TypedDict, Unpack

import requests
import stripe
import urllib3
from django.conf import settings
from stripe.params import (
    CustomerCreateParams,
    DisputeCloseParams,
    DisputeListParams,
    DisputeUpdateParams,
    EventListParams,
    PaymentIntentCancelParams,
    PaymentIntentConfirmParams,
    PaymentIntentCreateParams,
    PaymentIntentListParams,
    RefundCreateParams,
    RefundListParams,
)

from payments.money import normalize_currency, to_minor_units

# The API version this SDK pins on every request, and so the one this code reads: events
# rendered at another are not applied as they are (payments.services.webhooks).
API_VERSION: str = stripe.api_version

# Stripe's own default: a signature older than five minutes is a replay.
WEBHOOK_TOLERANCE_SECONDS = 300

RefundReason = Literal["duplicate", "fraudulent", "requested_by_customer"]
CancellationReason = Literal["abandoned", "duplicate", "fraudulent", "requested_by_customer"]


# --- Outcomes -------------------------------------------------------------------------------------
class Outcome(StrEnum):
    """What a failed call may have done at Stripe (see the module's docstring)."""

    REFUSED = "refused"  # Stripe answered no; no attempt can have acted
    UNSENT = "unsent"  # nothing ran at Stripe; sending again at once is safe
    UNKNOWN = "unknown"  # an attempt may have acted: ask Stripe before sending again


class _Attempt(StrEnum):
    """One HTTP attempt, as far as Stripe's side of it can be known."""

    REFUSED = "refused"  # a 4xx saying the request did not run (invalid, declined, missing)
    NOT_RUN = "not_run"  # not reached, or a 429/401/403: Stripe ran nothing
    MAYBE = "maybe"  # sent, and then no clear answer: it may have run


def _attempt_from_status(status: int) -> _Attempt:
    if status in (401, 403, 429):
        return _Attempt.NOT_RUN
    if status == 409 or status >= 500:  # another request with the key is running; Stripe failed
        return _Attempt.MAYBE
    return _Attempt.REFUSED


def _attempt_from_network_error(error: BaseException | None) -> _Attempt:
    """A connection that never opened cannot have sent anything; anything later may have."""
    if isinstance(error, requests.exceptions.ConnectTimeout | requests.exceptions.SSLError):
        return _Attempt.NOT_RUN
    if isinstance(error, requests.exceptions.ConnectionError):
        reason = getattr(error.args[0], "reason", None) if error.args else None
        if isinstance(reason, urllib3.exceptions.NewConnectionError):  # refused, no such host
            return _Attempt.NOT_RUN
    return _Attempt.MAYBE


# The attempts of the call in progress, in this thread (the SDK retries inside one call).
_attempts: contextvars.ContextVar[list[_Attempt] | None] = contextvars.ContextVar(
    "stripe_attempts", default=None
)


def _outcome(attempts: Sequence[_Attempt]) -> Outcome:
    if _Attempt.MAYBE in attempts:
        return Outcome.UNKNOWN
    if attempts and attempts[-1] == _Attempt.REFUSED:
        return Outcome.REFUSED
    return Outcome.UNSENT


class _RecordingRequestsClient(stripe.RequestsClient):
    """The SDK's requests-based HTTP client, noting what each attempt may have done."""

    def request(  # type: ignore[override]  # RequestsClient's own signature
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        attempts = _attempts.get()
        try:
            response = super().request(method, url, headers, post_data)
        except stripe.APIConnectionError as exc:
            if attempts is not None:
                attempts.append(_attempt_from_network_error(exc.__cause__))
            raise
        if attempts is not None:
            attempts.append(_attempt_from_status(response[1]))
        return response


# --- Exceptions -----------------------------------------------------------------------------------
class ErrorDetails(TypedDict, total=False):
    user_message: str | None
    code: str | None
    http_status: int | None
    request_id: str | None
    stripe_message: str | None
    outcome: Outcome


class PaymentProviderError(Exception):
    """Stripe did not do what we asked. `user_message` is safe to show the person paying;
    `code` is Stripe's error code (`amount_too_large`, `resource_missing`, ...) when it sent one;
    `outcome` says whether the request may have acted at Stripe anyway."""

    default_user_message = "The payment provider could not complete the request. Please try again."

    def __init__(self, message: str, **details: Unpack[ErrorDetails]) -> None:
        super().__init__(message)
        self.user_message = details.get("user_message") or self.default_user_message
        self.code = details.get("code")
        self.http_status = details.get("http_status")
        self.request_id = details.get("request_id")
        # Stripe's own words, for staff (customers get `user_message`).
        self.stripe_message = details.get("stripe_message") or message
        self.outcome = details.get("outcome", Outcome.UNSENT)


class CardDeclined(PaymentProviderError):
    """The card (or bank) refused the payment; `decline_code` says why when Stripe knows."""

    default_user_message = "Your card was declined."

    def __init__(
        self, message: str, *, decline_code: str | None = None, **details: Unpack[ErrorDetails]
    ) -> None:
        super().__init__(message, **details)
        self.decline_code = decline_code


class InvalidRequest(PaymentProviderError):
    """Stripe refused the request itself (a bad or missing parameter, a state that forbids it)."""

    default_user_message = "The payment provider refused this request."

    def __init__(
        self, message: str, *, param: str | None = None, **details: Unpack[ErrorDetails]
    ) -> None:
        super().__init__(message, **details)
        self.param = param


class IdempotencyConflict(InvalidRequest):
    """An idempotency key was reused with different parameters: a bug in how keys are derived."""


class AuthenticationFailed(PaymentProviderError):
    """Our API key is missing, wrong or lacks permission: a configuration problem."""

    default_user_message = "Payments are temporarily unavailable. Please try again later."


class RateLimited(PaymentProviderError):
    default_user_message = "The payment provider is busy. Please try again in a moment."


class ProviderUnavailable(PaymentProviderError):
    """Stripe answered 5xx, could not be reached, or did not answer within the timeout."""

    default_user_message = "The payment provider is unavailable. Please try again in a moment."


class RequestInProgress(ProviderUnavailable):
    """Stripe is still running an earlier request with the same idempotency key (409
    `idempotency_key_in_use`, after the SDK's retries): its outcome is not known yet."""

    default_user_message = "This request is already being processed. Please try again shortly."


class WebhookSignatureInvalid(PaymentProviderError):
    """A webhook whose signature matches none of our secrets, or is too old."""

    default_user_message = "Invalid signature."


@contextmanager
def _stripe_errors() -> Iterator[None]:
    """Translate the SDK's exceptions into ours, with the call's outcome; the original stays
    chained as `__cause__`."""
    attempts: list[_Attempt] = []
    token = _attempts.set(attempts)
    try:
        yield
    except stripe.StripeError as exc:
        message = str(exc)
        common: ErrorDetails = {
            # Some SDK errors (RateLimitError, IdempotencyError) leave `code` on the body only.
            "code": exc.code or (exc.error.code if exc.error else None),
            "http_status": exc.http_status,
            "request_id": exc.request_id,
            "stripe_message": (exc.error.message if exc.error else None) or None,
            "outcome": _outcome(attempts),
        }
        if exc.code == "resource_missing" or (exc.error and exc.error.code == "resource_missing"):
            common["user_message"] = "Not found at Stripe."
        if isinstance(exc, stripe.CardError):
            decline_code = exc.error.decline_code if exc.error else None
            common["user_message"] = exc.user_message  # Stripe writes these for customers
            raise CardDeclined(message, decline_code=decline_code, **common) from exc
        if isinstance(exc, stripe.IdempotencyError):
            raise IdempotencyConflict(message, **common) from exc
        if common["code"] == "idempotency_key_in_use":
            raise RequestInProgress(message, **common) from exc
        if isinstance(exc, stripe.RateLimitError):
            raise RateLimited(message, **common) from exc
        if isinstance(exc, stripe.InvalidRequestError):
            raise InvalidRequest(message, param=exc.param, **common) from exc
        if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
            raise AuthenticationFailed(message, **common) from exc
        if isinstance(exc, stripe.APIConnectionError | stripe.APIError):
            raise ProviderUnavailable(message, **common) from exc
        raise PaymentProviderError(message, **common) from exc
    finally:
        # A list generator abandoned half-way resets late; the value it restores is unused.
        with suppress(ValueError):
            _attempts.reset(token)


# --- The client -----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _build_client(
    secret_key: str, api_base: str, timeout: float, max_network_retries: int
) -> stripe.StripeClient:
    return stripe.StripeClient(
        secret_key,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=max_network_retries,
        http_client=_RecordingRequestsClient(timeout=timeout),
    )


def worst_case_seconds(timeout: float | None = None, retries: int | None = None) -> float:
    """The longest one call can take: every attempt timing out, and the SDK's back-off between
    them (0.5 s doubling, at most 5 s each); of the settings unless given (gunicorn.conf.py,
    before Django is set up). Gunicorn's worker timeout and the refunds' in-flight window are
    derived from it."""
    timeout = float(settings.STRIPE_TIMEOUT_SECONDS if timeout is None else timeout)
    retries = int(settings.STRIPE_MAX_NETWORK_RETRIES if retries is None else retries)
    backoff = sum(min(0.5 * 2 ** (n - 1), 5.0) for n in range(1, retries + 1))
    return timeout * (retries + 1) + backoff


def _client() -> stripe.StripeClient:
    if not settings.STRIPE_SECRET_KEY:
        raise AuthenticationFailed("STRIPE_SECRET_KEY is not set.")
    return _build_client(
        settings.STRIPE_SECRET_KEY,
        settings.STRIPE_API_BASE,
        float(settings.STRIPE_TIMEOUT_SECONDS),
        int(settings.STRIPE_MAX_NETWORK_RETRIES),
    )


def _options(idempotency_key: str) -> stripe.RequestOptions:
    if not idempotency_key:
        raise ValueError("Every write to Stripe needs an idempotency key derived from our rows.")
    return {"idempotency_key": idempotency_key}


def _timestamp(value: datetime | int) -> int:
    return int(value.timestamp()) if isinstance(value, datetime) else value


# --- Customers ------------------------------------------------------------------------------------
# Stripe refuses longer strings (its published limits).
NAME_MAX, EMAIL_MAX, DESCRIPTION_MAX = 256, 512, 1000


def customer_create(
    *, user_id: int, email: str, name: str, idempotency_key: str
) -> stripe.Customer:
    """A Customer for a user; a name or email longer than Stripe takes is cut to fit (the
    user id in the metadata is what ties it to us)."""
    params: CustomerCreateParams = {
        "email": email[:EMAIL_MAX],
        "name": name[:NAME_MAX],
        "metadata": {"user_id": str(user_id)},
    }
    with _stripe_errors():
        return _client().v1.customers.create(params, _options(idempotency_key))


# --- PaymentIntents -------------------------------------------------------------------------------
def payment_intent_create(
    *,
    amount: Decimal,
    currency: str,
    customer_id: str | None,
    payment_method_types: Sequence[str],
    metadata: Mapping[str, str],
    idempotency_key: str,
    description: str | None = None,
    bank_transfer: tuple[str, str | None] | None = None,
) -> stripe.PaymentIntent:
    """Create a PaymentIntent for `amount` (major units) that the browser then confirms.

    `payment_method_types` is sent as `allowed_payment_method_types`: on the API version this SDK
    pins (2026-10-28.endive) Stripe no longer accepts `payment_method_types` as a parameter, and
    silently drops allowed types that cannot work (e.g. `customer_balance` without a customer).
    The PaymentIntent's `payment_method_types` says what was kept.
    """
    params: PaymentIntentCreateParams = {
        "amount": to_minor_units(amount, currency),
        "currency": normalize_currency(currency).lower(),
        "allowed_payment_method_types": list(payment_method_types),
        "metadata": dict(metadata),
    }
    if customer_id:
        params["customer"] = customer_id
    if description:
        params["description"] = description[:DESCRIPTION_MAX]
    if bank_transfer is not None:
        # customer_balance is Stripe's bank transfer: it needs the transfer type (and, for
        # eu_bank_transfer, the country of the account details the customer is shown).
        transfer_type, country = bank_transfer
        params["payment_method_options"] = {
            "customer_balance": {
                "funding_type": "bank_transfer",
                "bank_transfer": (
                    {"type": transfer_type, "eu_bank_transfer": {"country": country}}
                    if country
                    else {"type": transfer_type}
                ),
            }
        }
    with _stripe_errors():
        return _client().v1.payment_intents.create(params, _options(idempotency_key))


def payment_intent_retrieve(pi_id: str) -> stripe.PaymentIntent:
    """The PaymentIntent with `latest_charge` expanded (charge id, card brand and last4)."""
    with _stripe_errors():
        return _client().v1.payment_intents.retrieve(pi_id, {"expand": ["latest_charge"]})


def payment_intent_confirm(
    pi_id: str, *, payment_method: str, idempotency_key: str
) -> stripe.PaymentIntent:
    """Confirm server-side with a saved or test payment method (`pm_card_visa`). Checkout pages
    confirm in the browser with Stripe.js; this is for demo data and operators."""
    params: PaymentIntentConfirmParams = {"payment_method": payment_method}
    with _stripe_errors():
        return _client().v1.payment_intents.confirm(pi_id, params, _options(idempotency_key))


def payment_intent_cancel(
    pi_id: str, *, idempotency_key: str, cancellation_reason: CancellationReason | None = None
) -> stripe.PaymentIntent:
    params: PaymentIntentCancelParams = {}
    if cancellation_reason:
        params["cancellation_reason"] = cancellation_reason
    with _stripe_errors():
        return _client().v1.payment_intents.cancel(pi_id, params, _options(idempotency_key))


def payment_intent_list(*, created_gte: datetime | int) -> Iterator[stripe.PaymentIntent]:
    """Every PaymentIntent created at or after `created_gte`, newest first, across all pages.

    A generator: Stripe is called (and errors raised) as it is iterated.
    """
    params: PaymentIntentListParams = {"created": {"gte": _timestamp(created_gte)}, "limit": 100}
    with _stripe_errors():
        yield from _client().v1.payment_intents.list(params).auto_paging_iter()


# --- Refunds --------------------------------------------------------------------------------------
def refund_create(
    *,
    payment_intent_id: str,
    amount: Decimal | None,
    currency: str,
    reason: RefundReason | None,
    metadata: Mapping[str, str],
    idempotency_key: str,
) -> stripe.Refund:
    """Refund `amount` (major units) of the PaymentIntent's charge; `None` refunds what remains."""
    params: RefundCreateParams = {"payment_intent": payment_intent_id, "metadata": dict(metadata)}
    if amount is not None:
        params["amount"] = to_minor_units(amount, currency)
    if reason:
        params["reason"] = reason
    with _stripe_errors():
        return _client().v1.refunds.create(params, _options(idempotency_key))


def refund_list(*, payment_intent_id: str) -> list[stripe.Refund]:
    """All refunds of the PaymentIntent (any status), newest first."""
    params: RefundListParams = {"payment_intent": payment_intent_id, "limit": 100}
    with _stripe_errors():
        return list(_client().v1.refunds.list(params).auto_paging_iter())


def refund_list_since(*, created_gte: datetime | int) -> Iterator[stripe.Refund]:
    """Every refund created at or after `created_gte` (any PaymentIntent), across all pages.

    A generator, like `payment_intent_list`: catches refunds made in Stripe's Dashboard on
    payments older than the window.
    """
    params: RefundListParams = {"created": {"gte": _timestamp(created_gte)}, "limit": 100}
    with _stripe_errors():
        yield from _client().v1.refunds.list(params).auto_paging_iter()


# --- Disputes -------------------------------------------------------------------------------------
# The text fields of a dispute's evidence (the others are uploaded files' ids, or appeals).
DISPUTE_TEXT_EVIDENCE = (
    "product_description",
    "customer_name",
    "customer_email_address",
    "customer_purchase_ip",
    "billing_address",
    "shipping_address",
    "shipping_carrier",
    "shipping_tracking_number",
    "shipping_date",
    "service_date",
    "access_activity_log",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "duplicate_charge_explanation",
    "uncategorized_text",
)


def dispute_retrieve(dispute_id: str) -> stripe.Dispute:
    with _stripe_errors():
        return _client().v1.disputes.retrieve(dispute_id)


def dispute_list(
    *, payment_intent_id: str | None = None, created_gte: datetime | int | None = None
) -> Iterator[stripe.Dispute]:
    """The disputes of a PaymentIntent, or every dispute created at or after `created_gte`,
    across all pages. A generator, like `payment_intent_list`."""
    params: DisputeListParams = {"limit": 100}
    if payment_intent_id:
        params["payment_intent"] = payment_intent_id
    if created_gte is not None:
        params["created"] = {"gte": _timestamp(created_gte)}
    with _stripe_errors():
        yield from _client().v1.disputes.list(params).auto_paging_iter()


def dispute_update(
    dispute_id: str, *, evidence: Mapping[str, str], submit: bool, idempotency_key: str
) -> stripe.Dispute:
    """Stage (`submit=False`) or submit text evidence. Every field is sent, blank ones as "",
    so that what Stripe holds is exactly what the person saw and confirmed."""
    unknown = set(evidence) - set(DISPUTE_TEXT_EVIDENCE)
    if unknown:
        raise ValueError(f"not text evidence: {sorted(unknown)}")
    params: DisputeUpdateParams = {
        "evidence": {field: str(value) for field, value in evidence.items()},  # type: ignore[typeddict-item]
        "submit": submit,
    }
    with _stripe_errors():
        return _client().v1.disputes.update(dispute_id, params, _options(idempotency_key))


def dispute_close(dispute_id: str, *, idempotency_key: str) -> stripe.Dispute:
    """Accept the dispute: Stripe closes it as lost (an inquiry: closed), and it is final."""
    params: DisputeCloseParams = {}
    with _stripe_errors():
        return _client().v1.disputes.close(dispute_id, params, _options(idempotency_key))


# --- Events and webhooks --------------------------------------------------------------------------
def event_list(
    *, created_gte: datetime | int, types: Sequence[str] | None = None
) -> Iterator[stripe.Event]:
    """Every event created at or after `created_gte` (optionally only `types`), newest first.

    A generator, like `payment_intent_list`. Stripe keeps events for 30 days.
    """
    params: EventListParams = {"created": {"gte": _timestamp(created_gte)}, "limit": 100}
    if types:
        params["types"] = list(types)
    with _stripe_errors():
        yield from _client().v1.events.list(params).auto_paging_iter()


def webhook_event_verify(payload: bytes, sig_header: str) -> dict[str, Any]:
    """Verify a webhook's `Stripe-Signature` against each configured secret (several during a
    rotation) with Stripe's 300 s tolerance, and return the signed body as the JSON object it is
    (never the SDK's objects: they turn decimal strings into Decimals, and cost time)."""
    secrets = [secret for secret in settings.STRIPE_WEBHOOK_SECRETS if secret]
    if not secrets:
        raise WebhookSignatureInvalid("No webhook signing secret is configured.")
    failures = []
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(
                payload, sig_header, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
            )
            break
        except stripe.SignatureVerificationError as exc:
            failures.append(exc.user_message or str(exc))
    else:
        raise WebhookSignatureInvalid("; ".join(dict.fromkeys(failures)))
    try:
        event = json.loads(payload)
    except ValueError as exc:  # signed, yet not JSON
        raise WebhookSignatureInvalid("The webhook payload is not a JSON object.") from exc
    if not isinstance(event, dict):
        raise WebhookSignatureInvalid("The webhook payload is not a JSON object.")
    return event
