"""The finance back-office, a module per flow: the dashboard, the list pages and their exports,
the payment page (refresh, refund), refunds awaiting approval, disputes, webhook events and the
audit trail. See views.common for the permission rule every view follows."""

from backoffice.views.approvals import refund_approvals, refund_approve, refund_reject
from backoffice.views.audit import audit_csv, audit_list
from backoffice.views.dashboard import dashboard
from backoffice.views.disputes import (
    dispute_accept,
    dispute_csv,
    dispute_detail,
    dispute_evidence,
    dispute_list,
)
from backoffice.views.exports import csv_export_detail, csv_export_download
from backoffice.views.lists import (
    payment_csv,
    payment_list,
    refund_csv,
    refund_list,
    webhook_event_csv,
    webhook_event_list,
)
from backoffice.views.payments import (
    payment_detail,
    payment_refresh,
    payment_refund,
    payment_timeline,
)
from backoffice.views.preferences import user_settings
from backoffice.views.webhooks import webhook_event_detail, webhook_event_replay

__all__ = [
    "audit_csv",
    "audit_list",
    "csv_export_detail",
    "csv_export_download",
    "dashboard",
    "dispute_accept",
    "dispute_csv",
    "dispute_detail",
    "dispute_evidence",
    "dispute_list",
    "payment_csv",
    "payment_detail",
    "payment_list",
    "payment_refresh",
    "payment_refund",
    "payment_timeline",
    "refund_approvals",
    "refund_approve",
    "refund_csv",
    "refund_list",
    "refund_reject",
    "user_settings",
    "webhook_event_csv",
    "webhook_event_detail",
    "webhook_event_list",
    "webhook_event_replay",
]
