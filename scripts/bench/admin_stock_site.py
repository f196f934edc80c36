"""The admin benchmark's comparison point: a stock `admin.ModelAdmin` for payments, with the
list_display, list_filter and search_fields a developer would write by default, on an AdminSite
of its own at /stock-admin/, beside every URL of the project. Served by the benchmark only:
`gunicorn 'scripts.bench.admin_stock_site:wsgi_app()'`."""

from __future__ import annotations

import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()  # gunicorn imports this module before Django is set up

from django.conf import settings  # noqa: E402
from django.contrib import admin  # noqa: E402
from django.urls import path  # noqa: E402

from config.urls import urlpatterns as project_urlpatterns  # noqa: E402
from payments.models import Payment  # noqa: E402

site = admin.AdminSite(name="stock")


class StockPaymentAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "order",
        "user",
        "amount",
        "currency",
        "status",
        "payment_method",
    ]
    list_filter = ["status", "currency", "payment_method", "created_at"]
    search_fields = ["stripe_payment_intent_id", "user__email"]


site.register(Payment, StockPaymentAdmin)

urlpatterns = [path("stock-admin/", site.urls), *project_urlpatterns]

# The admin's `?o=` counts list_display's columns from 0: the amount is the fifth in both admins,
# the status the seventh.
AMOUNT_COLUMN = StockPaymentAdmin.list_display.index("amount")
STATUS_COLUMN = StockPaymentAdmin.list_display.index("status")


def wsgi_app() -> Any:
    """The project's WSGI application, answering this module's URLs."""
    from django.core.wsgi import get_wsgi_application

    settings.ROOT_URLCONF = __name__
    return get_wsgi_application()
