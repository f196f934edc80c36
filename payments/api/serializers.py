"""Request and response bodies of the checkout API, as the payments README documents them."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import fields, serializers

from payments import money
from payments.models import Payment, Refund


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know: a typo ("ammount") is an error, not a silent full refund."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


@extend_schema_field(
    {"type": "string", "format": "decimal", "example": "99.99", "pattern": r"^\d+(\.\d{1,3})?$"}
)
class MoneyField(serializers.Field):
    """An amount as a decimal string in major units, with the currency's own precision."""

    def __init__(self, currency_attr: str = "currency", **kwargs: Any) -> None:
        self.currency_attr = currency_attr
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance: Any) -> Any:
        currency = fields.get_attribute(instance, self.currency_attr.split("."))
        return (super().get_attribute(instance), currency)

    def to_representation(self, value: tuple[Decimal | None, str]) -> str | None:
        amount, currency = value
        return None if amount is None else str(money.to_decimal(amount, currency))


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        "example": "30.00",
        "pattern": r"^\d+(\.\d{1,3})?$",
        "nullable": True,
    }
)
class OptionalMoneyField(MoneyField):
    """An amount that may be absent (null)."""


class PaymentSerializer(serializers.ModelSerializer):
    amount = MoneyField()
    amount_refunded = MoneyField()
    amount_refundable = MoneyField()
    amount_remaining = OptionalMoneyField(
        help_text="A bank transfer waiting for the customer's money: what remains to be paid.",
    )
    order_id = serializers.IntegerField(read_only=True)
    payment_intent_id = serializers.CharField(source="stripe_payment_intent_id", read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id",
            "order_id",
            "payment_intent_id",
            "amount",
            "currency",
            "status",
            "payment_method",
            "amount_refunded",
            "amount_refundable",
            "amount_remaining",
            "card_brand",
            "card_last4",
            "failure_code",
            "failure_message",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PaymentStatusSerializer(serializers.Serializer):
    payment_id = serializers.IntegerField(source="id")
    payment_intent_id = serializers.CharField(source="stripe_payment_intent_id")
    status = serializers.ChoiceField(choices=Payment.Status.choices)


class CreatePaymentIntentSerializer(StrictSerializer):
    order_id = serializers.IntegerField(min_value=1)
    payment_method = serializers.ChoiceField(
        choices=Payment.Method.choices, default=Payment.Method.CARD
    )


class PaymentIntentSerializer(serializers.Serializer):
    """The answer of create_payment_intent, exactly the README's body."""

    payment_id = serializers.IntegerField(source="payment.id")
    client_secret = serializers.CharField()
    payment_intent_id = serializers.CharField(source="payment.stripe_payment_intent_id")
    amount = MoneyField(source="payment.amount", currency_attr="payment.currency")
    currency = serializers.CharField(source="payment.currency")
    status = serializers.ChoiceField(source="payment.status", choices=Payment.Status.choices)


class RefundSerializer(serializers.ModelSerializer):
    amount = MoneyField(currency_attr="payment.currency")
    currency = serializers.CharField(source="payment.currency", read_only=True)
    payment_id = serializers.IntegerField(read_only=True)
    refund_id = serializers.CharField(source="stripe_refund_id", read_only=True)

    class Meta:
        model = Refund
        fields = [
            "id",
            "payment_id",
            "refund_id",
            "amount",
            "currency",
            "status",
            "reason",
            "description",
            "failure_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CustomerRefundSerializer(RefundSerializer):
    """A refund as its customer sees it: the amount, the status and the dates. Finance's note
    (`description`), the reason given and Stripe's failure details are staff-only."""

    class Meta(RefundSerializer.Meta):
        fields = ["id", "payment_id", "amount", "currency", "status", "created_at", "updated_at"]
        read_only_fields = fields


class CustomerRefundSchema(OpenApiSerializerExtension):
    """No more than its fields: so that the staff shape, a superset, is not also a customer's
    refund in the schema's oneOf (payments.api.views.REFUND_FOR_CALLER)."""

    target_class = CustomerRefundSerializer

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_basic_serializer(self.target, direction)
        return {**schema, "additionalProperties": False}


class CreateRefundSerializer(StrictSerializer):
    payment_id = serializers.IntegerField(min_value=1)
    amount = serializers.DecimalField(
        max_digits=15,
        decimal_places=3,
        required=False,
        # Only an absent amount means "all that remains": null is a mistake, not a full refund.
        allow_null=False,
        help_text="In major units (50.00). Omit for a full refund of what remains.",
    )
    reason = serializers.ChoiceField(
        choices=Refund.Reason.choices, default=Refund.Reason.REQUESTED_BY_CUSTOMER
    )
    description = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default=""
    )

    def validate_amount(self, value: Decimal) -> Decimal:
        if value <= 0:
            raise serializers.ValidationError("The refund amount must be more than zero.")
        return value


class RefundDecisionSerializer(StrictSerializer):
    expected_amount_refunded = serializers.DecimalField(
        max_digits=15,
        decimal_places=3,
        required=False,
        min_value=Decimal("0"),
        help_text="The payment's amount_refunded when you reviewed it: if it changed since, "
        "the decision is refused (409) rather than made on what you did not see.",
    )
    note = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="Why (a rejection keeps it as the refund's failure_reason).",
    )


class RefundApprovalSerializer(RefundDecisionSerializer):
    """Approving sends money: what the approver saw must be said, so that a refund made since
    makes the approval stale (409) instead of being approved unseen."""

    expected_amount_refunded = serializers.DecimalField(
        max_digits=15,
        decimal_places=3,
        required=True,
        min_value=Decimal("0"),
        help_text="The payment's amount_refunded when you reviewed it (required): if it changed "
        "since, the approval is refused (409).",
    )


class ConfigSerializer(serializers.Serializer):
    publishable_key = serializers.CharField()
    default_currency = serializers.CharField()
    stripe_js_url = serializers.CharField()
