"""The store's own models that payments hang off: its users and their orders."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone

from shop.timezones import validate_time_zone


def default_currency() -> str:
    return settings.PAYMENTS_DEFAULT_CURRENCY


class CustomUser(AbstractUser):
    email = models.EmailField("email address", db_index=True)
    # The user's Stripe Customer, created on first checkout and reused after.
    stripe_customer_id = models.CharField(max_length=255, blank=True, default="")
    # The zone the back-office and the admin show this user's times in (shop.timezones); blank
    # is the site's TIME_ZONE.
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        default="",
        validators=[validate_time_zone],
        help_text="A tz database name (Europe/Berlin); blank for the site's time zone.",
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        # The back-office finds a customer by email whatever its case (UPPER(email) = UPPER(...)).
        indexes = [
            models.Index(Upper("email"), name="shop_user_email_upper"),
            # Staff and superusers, a handful among the customers: the refunds and audit
            # filters' people (payments.selectors.users_who_may_refund, audit_actors).
            models.Index(
                fields=["username"],
                condition=models.Q(is_superuser=True) | models.Q(is_staff=True),
                name="shop_user_staff",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["stripe_customer_id"],
                condition=~models.Q(stripe_customer_id=""),
                name="shop_user_stripe_customer_id_unique",
            )
        ]


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PAID = "paid", "Paid"
        CANCELLED = "cancelled", "Cancelled"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    # Major units, exact; three decimal places so KWD/BHD totals fit. Checked per currency by
    # payments.money before anything reaches Stripe.
    total = models.DecimalField(max_digits=15, decimal_places=3)
    currency = models.CharField(max_length=3, default=default_currency)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    # The checkout attempt in progress or the one that paid: each attempt is its own payment
    # (one per PaymentIntent), written by payments.services.checkout.
    current_payment = models.OneToOneField(
        "payments.Payment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(total__gt=Decimal("0")), name="shop_order_total_positive"
            ),
        ]
        indexes = [models.Index(fields=["user", "status"], name="shop_order_user_status")]

    def __str__(self) -> str:
        return f"Order #{self.pk}"
