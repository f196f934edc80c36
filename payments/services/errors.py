"""What the services refuse, with messages safe to show whoever asked.

Entry points map these onto answers (payments.api.errors for the API, the back-office views for
pages): refusals of the rules are 400/409, a refund whose outcome Stripe has not given is 503.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from payments.models import Refund


class ServiceError(Exception):
    """A request the rules refuse; `str()` is a message safe to show to whoever asked."""


class OrderNotPayable(ServiceError):
    """The order is paid, cancelled, or its total cannot be charged (409)."""


class CheckoutConflict(ServiceError):
    """A checkout for this order is already open in a way this request contradicts (409)."""


class NotAtStripe(ServiceError):
    """The payment has no PaymentIntent at Stripe to refresh from (409)."""


class RefundError(ServiceError):
    pass


class RefundNotAllowed(RefundError):
    """The payment cannot be refunded (not paid, already fully refunded) (409)."""


class RefundExceedsRemaining(RefundError):
    """More than what remains refundable was asked for (409)."""


class RefundAmountInvalid(RefundError):
    """Zero, negative, too precise for the currency, or not a number; or an unknown reason (400)."""


class RefundTokenReused(RefundError):
    """A request token already used for a different refund (409)."""


class RefundStale(RefundError):
    """The payment's refunds changed since this refund was reviewed (409): review it again."""


class RefundStillWaiting(RefundError):
    """The same refund, asked for again while Stripe has not answered the first (409)."""

    def __init__(self, message: str, *, refund: Refund) -> None:
        super().__init__(message)
        self.refund = refund


class RefundNotAwaitingApproval(RefundError):
    """Approving or rejecting a refund that no longer awaits approval (409): another person
    decided it first, or the payment's own refunds left no room for it. Names its status."""

    def __init__(self, message: str, *, refund: Refund) -> None:
        super().__init__(message)
        self.refund = refund


class RefundApproverIsRequester(RefundError):
    """The person who asked for a refund may not approve or reject it (403)."""


class RefundRejected(RefundError):
    """The refund asked for again was rejected by a second person: nothing was refunded (409)."""

    def __init__(self, message: str, *, refund: Refund) -> None:
        super().__init__(message)
        self.refund = refund


class RefundRefused(RefundError):
    """Stripe refused the refund and nothing was refunded; it is recorded as failed (502)."""

    def __init__(self, message: str, *, refund: Refund) -> None:
        super().__init__(message)
        self.refund = refund


class RefundPending(RefundError):
    """Stripe's answer is not known: the refund stays pending, its amount held (503)."""

    def __init__(self, message: str, *, refund: Refund) -> None:
        super().__init__(message)
        self.refund = refund


class WebhookProcessingFailed(ServiceError):
    """Applying an event raised; the event is kept as failed. `retry_in`: seconds until it is
    due again (None: it has failed for good and needs a person to replay it). Inside a webhook
    request (no worker) the answer is a 500, so Stripe retries."""

    def __init__(self, message: str, *, retry_in: float | None) -> None:
        super().__init__(message)
        self.retry_in = retry_in


class DisputeError(ServiceError):
    """Answering a dispute is not possible as asked; nothing was sent to Stripe."""


class DisputeNotAnswerable(DisputeError):
    """The dispute is decided, or already answered: Stripe takes no more evidence."""


class DisputeStale(DisputeError):
    """The dispute changed since the person reviewed their answer."""


class DisputeAnswerPending(DisputeError):
    """Stripe's answer to a dispute answer is not known yet (it may have been made): the same
    confirmation may be sent again, and is then one request to Stripe (503)."""


class DisputeRefused(DisputeError):
    """Stripe refused the answer; nothing changed there (409)."""
