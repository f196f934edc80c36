from django.urls import path

from backoffice import views

app_name = "backoffice"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("payments/", views.payment_list, name="payments"),
    path("payments/export.csv", views.payment_csv, name="payments_csv"),
    path("payments/<int:payment_id>/", views.payment_detail, name="payment_detail"),
    path("payments/<int:payment_id>/refresh/", views.payment_refresh, name="payment_refresh"),
    path("payments/<int:payment_id>/refund/", views.payment_refund, name="payment_refund"),
    path("refunds/", views.refund_list, name="refunds"),
    path("refunds/export.csv", views.refund_csv, name="refunds_csv"),
    path("webhooks/", views.webhook_event_list, name="webhook_events"),
    path("webhooks/<int:event_id>/", views.webhook_event_detail, name="webhook_event_detail"),
    path(
        "webhooks/<int:event_id>/replay/", views.webhook_event_replay, name="webhook_event_replay"
    ),
]
