"""Everything under /api/payments/: the checkout JSON API (and, with issue 5, Stripe's webhook)."""

from rest_framework.routers import SimpleRouter

from payments.api import views

router = SimpleRouter()
router.register("payments", views.PaymentViewSet, basename="payment")
router.register("refunds", views.RefundViewSet, basename="refund")

urlpatterns = [*router.urls]
