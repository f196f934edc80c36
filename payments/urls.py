"""Everything under /api/payments/: the checkout JSON API and Stripe's webhook."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from payments import webhooks
from payments.api import views

router = SimpleRouter()
router.register("payments", views.PaymentViewSet, basename="payment")
router.register("refunds", views.RefundViewSet, basename="refund")

urlpatterns = [
    path("webhook/stripe/", webhooks.stripe_webhook, name="stripe-webhook"),
    *router.urls,
]
