"""The customer's own orders, for the checkout page (GET /api/shop/orders/)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from rest_framework import serializers, viewsets

from payments import money
from shop.models import Order


class OrderSerializer(serializers.ModelSerializer):
    total = serializers.SerializerMethodField()
    # The order's current checkout attempt (each attempt is its own payment).
    payment_id = serializers.IntegerField(source="current_payment.pk", read_only=True, default=None)
    payment_status = serializers.CharField(
        source="current_payment.status", read_only=True, default=None
    )

    class Meta:
        model = Order
        fields = ["id", "total", "currency", "status", "created_at", "payment_id", "payment_status"]
        read_only_fields = fields

    def get_total(self, order: Order) -> str:
        """Decimal string in major units, with the currency's own precision."""
        return str(money.to_decimal(order.total, order.currency))


class OrderFilter(django_filters.FilterSet):
    class Meta:
        model = Order
        fields = ["status"]


class OrderViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Order.objects.none()  # per request: get_queryset
    serializer_class = OrderSerializer
    filterset_class = OrderFilter
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Order]:
        return (
            Order.objects.filter(user_id=self.request.user.pk)
            .select_related("current_payment")
            .order_by("-created_at", "-id")
        )
