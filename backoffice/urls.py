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
    path("payments/<int:payment_id>/timeline/", views.payment_timeline, name="payment_timeline"),
    path("refunds/", views.refund_list, name="refunds"),
    path("refunds/export.csv", views.refund_csv, name="refunds_csv"),
    path("refunds/awaiting/", views.refund_approvals, name="refund_approvals"),
    path("refunds/<int:refund_id>/approve/", views.refund_approve, name="refund_approve"),
    path("refunds/<int:refund_id>/reject/", views.refund_reject, name="refund_reject"),
    path("disputes/", views.dispute_list, name="disputes"),
    path("disputes/export.csv", views.dispute_csv, name="disputes_csv"),
    path("disputes/<int:dispute_id>/", views.dispute_detail, name="dispute_detail"),
    path("disputes/<int:dispute_id>/evidence/", views.dispute_evidence, name="dispute_evidence"),
    path("disputes/<int:dispute_id>/accept/", views.dispute_accept, name="dispute_accept"),
    path("webhooks/", views.webhook_event_list, name="webhook_events"),
    path("webhooks/export.csv", views.webhook_event_csv, name="webhook_events_csv"),
    path("webhooks/<int:event_id>/", views.webhook_event_detail, name="webhook_event_detail"),
    path(
        "webhooks/<int:event_id>/replay/", views.webhook_event_replay, name="webhook_event_replay"
    ),
    path("audit/", views.audit_list, name="audit"),
    path("audit/export.csv", views.audit_csv, name="audit_csv"),
    path("exports/<uuid:export_id>/", views.csv_export_detail, name="csv_export"),
    path(
        "exports/<uuid:export_id>/download",
        views.csv_export_download,
        name="csv_export_download",
    ),
    path("settings/", views.user_settings, name="settings"),
]
