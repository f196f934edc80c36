"""The finance back-office, a module per flow: the dashboard, the list pages and their exports,
the payment page (refresh, refund) and webhook events. See views.common for the permission rule
every view follows."""

from backoffice.views.dashboard import dashboard
from backoffice.views.lists import (
    payment_csv,
    payment_list,
    refund_csv,
    refund_list,
    webhook_event_list,
)
from backoffice.views.payments import payment_detail, payment_refresh, payment_refund
from backoffice.views.webhooks import webhook_event_detail, webhook_event_replay

__all__ = [
    "dashboard",
    "payment_csv",
    "payment_detail",
    "payment_list",
    "payment_refresh",
    "payment_refund",
    "refund_csv",
    "refund_list",
    "webhook_event_detail",
    "webhook_event_list",
    "webhook_event_replay",
]
