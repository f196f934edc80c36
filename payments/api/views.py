"""The checkout JSON API (under /api/payments/). Thin: validate, call one service, answer.

Errors are shaped and mapped to status codes in payments.api.errors. A customer sees only their
own payments and refunds (another user's is a 404, never a 403 that confirms it exists); staff
with the view permissions (Finance, Support) see all of them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import django_filters
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import permissions, status, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as BadRequest
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from config.client_ip import lockout_response
from payments import selectors, services
from payments.api import serializers as s
from payments.api.pagination import NewestFirstCursorPagination
from payments.models import Payment, Refund
from shop.models import CustomUser

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_\-:.]{1,64}$")


def _caller(request: Request) -> CustomUser:
    """The authenticated caller (every view here requires authentication)."""
    assert isinstance(request.user, CustomUser)
    return request.user


class ObtainTokenView(ObtainAuthToken):
    """POST username and password, get the token for `Authorization: Token ...` (throttled, and
    locked out after a few wrong passwords, like every login: django-axes)."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth-token"

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().post(request, *args, **kwargs)
        except BadRequest:
            # django-axes marks the request it refused; its middleware sees only Django's.
            if getattr(request, "axes_locked_out", False):
                return lockout_response(request._request)
            raise


class CanRefund(permissions.BasePermission):
    message = "Only finance staff may refund payments."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.has_perm("payments.add_refund"))


class CanApproveRefunds(permissions.BasePermission):
    message = "Only finance staff may approve or reject refunds."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.has_perm("payments.approve_refund"))


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, moved to UTC: offsets PostgreSQL refuses (+18:59) and dates that
    overflow once moved are a 400, not a database error."""

    def to_python(self, value: Any) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValidationError("Enter a date/time between years 1 and 9999.") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class PaymentFilter(django_filters.FilterSet):
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Payment
        fields = ["status", "created_after", "created_before"]


ERRORS = {
    400: OpenApiResponse(description="Invalid input: `fields` names each problem."),
    401: OpenApiResponse(description="Missing or invalid token."),
    404: OpenApiResponse(description="No such object, or not yours."),
}


@extend_schema_view(
    list=extend_schema(
        description="Payments, newest first (`created_at`, then `id`): every payment for staff "
        "who may view payments, else your own. Paged by cursor: follow `next` (older) and "
        "`previous` (newer); there is no count and no page number.",
        responses={
            200: s.PaymentSerializer(many=True),
            401: ERRORS[401],
            400: OpenApiResponse(
                description="Invalid input: `fields` names each problem (a `cursor` this list "
                "did not issue, a `page`, a `per_page` out of bounds, a bad filter)."
            ),
        },
    )
)
class PaymentViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Payment.objects.none()  # per request: get_queryset
    serializer_class = s.PaymentSerializer
    # Staff page through a million rows: keyset paging costs the same at any depth, and counts
    # nothing. A customer's list has the same rows in the same order, paged the same way.
    pagination_class = NewestFirstCursorPagination
    throttle_scope: str | None = None  # set per action (confirm, status)
    filterset_class = PaymentFilter
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Payment]:
        return selectors.payments_visible_to(_caller(self.request))

    @extend_schema(
        request=s.CreatePaymentIntentSerializer,
        responses={
            200: s.PaymentIntentSerializer,
            **ERRORS,
            409: OpenApiResponse(description="The order is already paid or cannot be charged."),
            502: OpenApiResponse(description="Stripe refused the request."),
            503: OpenApiResponse(description="Stripe is unavailable; retry safely."),
        },
    )
    @action(detail=False, methods=["post"])
    def create_payment_intent(self, request: Request) -> Response:
        """Start paying one of your orders: answers the PaymentIntent's client secret.

        Asking again while the PaymentIntent is open returns the same one (safe to retry).
        """
        body = s.CreatePaymentIntentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        payment, client_secret = services.payment_intent_create(
            user=_caller(request), **body.validated_data
        )
        answer = {"payment": payment, "client_secret": client_secret}
        return Response(s.PaymentIntentSerializer(answer).data)

    @extend_schema(responses={200: s.PaymentSerializer, **ERRORS})
    @action(
        detail=True,
        methods=["get"],
        throttle_classes=[ScopedRateThrottle],
        throttle_scope="payment-status",
    )
    def confirm(self, request: Request, pk: str) -> Response:
        """Call once after Stripe.js confirmed: asks Stripe (unless the payment is final), records
        what it says, and answers the payment. Concurrent calls share one Stripe call."""
        payment = services.payment_status_check(
            payment_id=self.get_object().pk, just_confirmed=True
        )
        return Response(s.PaymentSerializer(payment).data)

    @extend_schema(responses={200: s.PaymentStatusSerializer, **ERRORS})
    @action(
        detail=True,
        methods=["get"],
        url_path="status",
        throttle_classes=[ScopedRateThrottle],
        throttle_scope="payment-status",
    )
    def payment_status(self, request: Request, pk: str) -> Response:
        """The payment's status, for polling: from our records, which Stripe's webhooks keep
        current; asked of Stripe only when the last word on a payment that is not final is more
        than a few seconds old."""
        payment = services.payment_status_check(payment_id=self.get_object().pk)
        return Response(s.PaymentStatusSerializer(payment).data)

    @extend_schema(responses={200: s.ConfigSerializer})
    @action(detail=False, methods=["get"], pagination_class=None, filterset_class=None)
    def config(self, request: Request) -> Response:
        """What a checkout page needs to load Stripe.js."""
        return Response(
            s.ConfigSerializer(
                {
                    "publishable_key": settings.STRIPE_PUBLIC_KEY,
                    "default_currency": settings.PAYMENTS_DEFAULT_CURRENCY,
                    "stripe_js_url": settings.STRIPE_JS_URL,
                }
            ).data
        )


# A refund's two shapes: staff (who may view every refund) see all of it, a customer only the
# amount, the status and the dates of their own.
REFUND_FOR_CALLER = PolymorphicProxySerializer(
    component_name="RefundForCaller",
    serializers=[s.RefundSerializer, s.CustomerRefundSerializer],
    resource_type_field_name=None,
)
REFUND_SHAPES = (
    "Staff who may view refunds (Finance, Support) get `Refund`, everything; a customer gets "
    "`CustomerRefund`: amount, currency, status and dates, without the refund's reason, "
    "finance's note or Stripe's failure details."
)


@extend_schema_view(
    list=extend_schema(
        description="Refunds, newest first (`created_at`, then `id`): every refund for staff, "
        "else your own payments'. Paged by cursor, as the payment list: follow `next` (older) "
        "and `previous` (newer); there is no count and no page number. " + REFUND_SHAPES,
        responses={
            200: REFUND_FOR_CALLER,
            401: ERRORS[401],
            400: OpenApiResponse(
                description="Invalid input: `fields` names each problem (a `cursor` this list "
                "did not issue, a `page`, a `per_page` out of bounds)."
            ),
        },
    ),
    retrieve=extend_schema(
        description="One refund. " + REFUND_SHAPES,
        responses={200: REFUND_FOR_CALLER, **ERRORS},
    ),
)
class RefundViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Refund.objects.none()  # per request: get_queryset
    serializer_class = s.RefundSerializer
    # Refunds grow with the payments: keyset paging, no COUNT of the table (as PaymentViewSet).
    pagination_class = NewestFirstCursorPagination
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Refund]:
        return selectors.refunds_visible_to(_caller(self.request))

    def get_serializer_class(self) -> type[s.RefundSerializer]:
        if self.action in ("list", "retrieve") and not _caller(self.request).has_perm(
            "payments.view_refund"
        ):
            return s.CustomerRefundSerializer
        return s.RefundSerializer

    @extend_schema(
        request=s.CreateRefundSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Makes retries safe: the same key returns the first refund (and "
                "asks Stripe again if Stripe never answered); reusing it for a different "
                "refund is a 409.",
                pattern=IDEMPOTENCY_KEY.pattern,
            )
        ],
        responses={
            201: s.RefundSerializer,
            202: OpenApiResponse(
                s.RefundSerializer,
                description="At or above the currency's approval threshold: recorded "
                "`awaiting_approval` with its amount held, nothing sent to Stripe until a second "
                "person approves it.",
            ),
            **ERRORS,
            403: OpenApiResponse(description="Only finance staff may refund."),
            409: OpenApiResponse(
                description="Not refundable, more than what remains, or a reused key."
            ),
            502: OpenApiResponse(description="Stripe refused the refund (recorded as failed)."),
            503: OpenApiResponse(
                description="Stripe did not answer: the refund stays pending with its amount "
                "held; retry with the same Idempotency-Key, do not refund again."
            ),
        },
    )
    @action(
        detail=False,
        methods=["post"],
        permission_classes=[permissions.IsAuthenticated, CanRefund],
    )
    def create_refund(self, request: Request) -> Response:
        """Refund a payment, fully (no amount) or partly. Finance only.

        Send an `Idempotency-Key` header to make retries safe: the same key returns the first
        refund instead of refunding again. A refund at or above the currency's approval
        threshold is answered 202, `awaiting_approval`: a second person approves or rejects it.
        """
        body = s.CreateRefundSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        key = request.headers.get("Idempotency-Key") or None
        if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
            raise BadRequest(
                {"Idempotency-Key": ["Use 1 to 64 letters, digits, '-', '_', ':' or '.'."]}
            )
        payment = selectors.payments_visible_to(_caller(request)).get(pk=data["payment_id"])
        refund = services.refund_create(
            payment_id=payment.pk,
            amount=data.get("amount"),
            reason=data["reason"],
            description=data["description"],
            created_by=_caller(request),
            request_token=key,
        )
        awaiting = refund.status == Refund.Status.AWAITING_APPROVAL
        return Response(
            s.RefundSerializer(refund).data,
            status=status.HTTP_202_ACCEPTED if awaiting else status.HTTP_201_CREATED,
        )

    @extend_schema(
        request=s.RefundApprovalSerializer,
        responses={
            200: s.RefundSerializer,
            **ERRORS,
            403: OpenApiResponse(
                description="Only finance staff may approve, and never the person who asked."
            ),
            409: OpenApiResponse(
                description="No longer awaiting approval (decided by someone else), the payment "
                "changed since `expected_amount_refunded`, or it can no longer be refunded."
            ),
            502: OpenApiResponse(description="Stripe refused the refund (recorded as failed)."),
            503: OpenApiResponse(
                description="Stripe did not answer: the refund stays pending with its amount "
                "held; refresh the payment, do not refund again."
            ),
        },
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[permissions.IsAuthenticated, CanApproveRefunds],
    )
    def approve(self, request: Request, pk: str) -> Response:
        """Approve a refund awaiting approval (not your own): it is sent to Stripe at once."""
        refund_id, data = self._decision(request, s.RefundApprovalSerializer)
        refund = services.refund_approve(
            refund_id=refund_id,
            approver=_caller(request),
            expected_amount_refunded=data.get("expected_amount_refunded"),
        )
        return Response(s.RefundSerializer(refund).data)

    @extend_schema(
        request=s.RefundDecisionSerializer,
        responses={
            200: s.RefundSerializer,
            **ERRORS,
            403: OpenApiResponse(
                description="Only finance staff may reject, and never the person who asked."
            ),
            409: OpenApiResponse(
                description="No longer awaiting approval, or the payment changed."
            ),
        },
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[permissions.IsAuthenticated, CanApproveRefunds],
    )
    def reject(self, request: Request, pk: str) -> Response:
        """Reject a refund awaiting approval (not your own): nothing is sent, its amount is
        free again."""
        refund_id, data = self._decision(request)
        refund = services.refund_reject(
            refund_id=refund_id,
            rejecter=_caller(request),
            note=data["note"],
            expected_amount_refunded=data.get("expected_amount_refunded"),
        )
        return Response(s.RefundSerializer(refund).data)

    def _decision(
        self,
        request: Request,
        serializer: type[s.RefundDecisionSerializer] = s.RefundDecisionSerializer,
    ) -> tuple[int, dict[str, Any]]:
        body = serializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self.get_object().pk, dict(body.validated_data)
