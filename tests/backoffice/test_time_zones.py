"""Times in the viewer's time zone, named: pages, the dashboard, the admin and CSV exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from payments.models import Dispute, Payment, Refund, StripeWebhookEvent
from shop.models import CustomUser
from tests import factories

pytestmark = pytest.mark.django_db

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
# 23:30 UTC on the 1st is 08:30 on the 2nd in Tokyo (+09:00, no summer time).
AT = dt.datetime(2026, 3, 1, 23, 30, 15, tzinfo=dt.UTC)
SETTINGS_URL = reverse("backoffice:settings")


@pytest.fixture
def tokyo_user(finance_user: CustomUser) -> CustomUser:
    finance_user.time_zone = "Asia/Tokyo"
    finance_user.save(update_fields=["time_zone"])
    return finance_user


@pytest.fixture
def tokyo(tokyo_user: CustomUser) -> Client:
    client = Client()
    client.force_login(tokyo_user)
    return client


@pytest.fixture
def payment() -> Payment:
    p = factories.payment(factories.order(total="12.50"))
    Payment.objects.filter(pk=p.pk).update(created_at=AT, updated_at=AT)
    p.refresh_from_db()
    return p


def _rows(response) -> list[dict]:
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_the_site_zone_is_the_default(finance: Client, payment: Payment):
    assert settings.TIME_ZONE == "UTC"
    html = finance.get(reverse("backoffice:payments")).content.decode()
    assert "2026-03-01 23:30" in html
    assert "Times in UTC" in html
    rows = _rows(finance.get(reverse("backoffice:payments_csv")))
    assert rows[0]["created_at"] == "2026-03-01T23:30:15+00:00"


def test_the_list_and_the_payment_page_are_in_the_viewers_zone(tokyo: Client, payment: Payment):
    html = tokyo.get(reverse("backoffice:payments")).content.decode()
    assert "2026-03-02 08:30" in html
    assert "2026-03-01 23:30" not in html
    assert 'data-testid="time-zone">Times in Asia/Tokyo</a>' in html
    detail = tokyo.get(reverse("backoffice:payment_detail", args=[payment.pk])).content.decode()
    assert "2026-03-02 08:30:15" in detail
    assert "Times in Asia/Tokyo" in detail


def test_the_dashboard_says_as_of_with_the_date_and_the_zone(tokyo: Client, finance_user):
    response = tokyo.get(reverse("backoffice:dashboard"))
    html = response.content.decode()
    as_of = timezone.localtime(response.context["as_of"], TOKYO)
    assert f"{as_of:%Y-%m-%d %H:%M:%S} JST</time>" in html
    assert f'datetime="{as_of.isoformat()}"' in html
    assert "Times in Asia/Tokyo" in html


def test_the_dashboard_cache_is_per_zone(tokyo: Client):
    # The chart's days depend on the zone: a UTC viewer does not get Tokyo's cached figures.
    tokyo_html = tokyo.get(reverse("backoffice:dashboard")).content.decode()
    other = factories.user("uma", group="Finance")
    utc = Client()
    utc.force_login(other)
    utc_html = utc.get(reverse("backoffice:dashboard")).content.decode()
    assert " JST</time>" in tokyo_html
    assert " UTC</time>" in utc_html


def test_csv_exports_are_iso_with_the_viewers_offset(tokyo: Client, payment: Payment):
    rows = _rows(tokyo.get(reverse("backoffice:payments_csv")))
    assert rows[0]["created_at"] == "2026-03-02T08:30:15+09:00"

    refund = factories.refund(payment, amount="2.00")
    Refund.objects.filter(pk=refund.pk).update(created_at=AT)
    rows = _rows(tokyo.get(reverse("backoffice:refunds_csv")))
    assert rows[0]["created_at"] == "2026-03-02T08:30:15+09:00"

    event = StripeWebhookEvent.objects.create(
        stripe_event_id="evt_tz_1", event_type="charge.refunded", data={}, stripe_created_at=AT
    )
    StripeWebhookEvent.objects.filter(pk=event.pk).update(received_at=AT)
    rows = _rows(tokyo.get(reverse("backoffice:webhook_events_csv")))
    assert rows[0]["received_at"] == "2026-03-02T08:30:15+09:00"
    assert rows[0]["stripe_created_at"] == "2026-03-02T08:30:15+09:00"
    assert rows[0]["processed_at"] == ""

    Dispute.objects.create(
        stripe_dispute_id="dp_tz_1",
        payment=payment,
        stripe_charge_id="ch_tz_1",
        amount=payment.amount,
        currency=payment.currency,
        reason="fraudulent",
        status=Dispute.Status.NEEDS_RESPONSE,
        evidence_due_by=AT + dt.timedelta(days=7),
        stripe_created_at=AT,
    )
    rows = _rows(tokyo.get(reverse("backoffice:disputes_csv")))
    assert rows[0]["evidence_due_by"] == "2026-03-09T08:30:15+09:00"
    assert rows[0]["created_at"] == "2026-03-02T08:30:15+09:00"


def test_the_audit_export_is_in_the_viewers_zone(tokyo_user: CustomUser, tokyo: Client):
    from django.contrib.auth.models import Permission

    from audit.models import AuditEntry

    tokyo_user.user_permissions.add(Permission.objects.get(codename="view_auditentry"))
    AuditEntry.objects.create(
        at=AT,
        actor=tokyo_user,
        actor_label=tokyo_user.email,
        action=AuditEntry.Action.PAYMENT_REFRESHED,
        object_type="payment",
        summary="Payment refreshed from Stripe: no change",
    )
    rows = _rows(tokyo.get(reverse("backoffice:audit_csv")))
    assert [r["at"] for r in rows] == ["2026-03-02T08:30:15+09:00"]


def test_date_filters_are_the_viewers_days_and_say_so(tokyo: Client, support: Client, payment):
    day = {"created_from": "2026-03-02", "created_to": "2026-03-02"}
    tokyo_response = tokyo.get(reverse("backoffice:payments"), day)
    assert [p.pk for p in tokyo_response.context["table"].data] == [payment.pk]
    assert "A day in Asia/Tokyo" in tokyo_response.content.decode()
    utc_response = support.get(reverse("backoffice:payments"), day)  # sam is in UTC
    assert list(utc_response.context["table"].data) == []
    assert "A day in UTC" in utc_response.content.decode()
    rows = _rows(tokyo.get(reverse("backoffice:payments_csv"), day))
    assert [int(r["payment_id"]) for r in rows] == [payment.pk]


def test_the_admin_follows_the_zone(client: Client, payment: Payment):
    root = factories.user("root", is_staff=True, is_superuser=True, time_zone="Asia/Tokyo")
    client.force_login(root)
    html = client.get(reverse("admin:payments_payment_changelist")).content.decode()
    assert "2026-03-02 08:30" in html
    assert "Times in Asia/Tokyo" in html


def test_the_zone_is_deactivated_after_the_request(tokyo: Client, payment: Payment):
    tokyo.get(reverse("backoffice:payments"))
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE


def test_anonymous_pages_are_unaffected(client: Client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert "Times in" not in response.content.decode()
    assert client.get(SETTINGS_URL).status_code == 302  # to the login page


def test_a_zone_the_tz_database_no_longer_has_falls_back_to_the_site(finance_user, finance):
    CustomUser.objects.filter(pk=finance_user.pk).update(time_zone="Nowhere/Gone")
    html = finance.get(reverse("backoffice:dashboard")).content.decode()
    assert "Times in UTC" in html


class TestSettingsForm:
    def test_it_shows_the_zones_and_the_current_one(self, tokyo: Client):
        response = tokyo.get(SETTINGS_URL, {"next": "/backoffice/payments/?status=failed"})
        html = response.content.decode()
        assert response.status_code == 200
        assert '<option value="Asia/Tokyo" selected>Asia/Tokyo</option>' in html
        assert "The site&#x27;s time zone (UTC)" in html
        assert 'name="next" value="/backoffice/payments/?status=failed"' in html
        assert 'data-testid="current-zone">Asia/Tokyo</strong>' in html

    def test_the_header_links_to_it_with_the_page_to_come_back_to(self, tokyo: Client):
        html = tokyo.get(reverse("backoffice:payments"), {"status": "failed"}).content.decode()
        assert f'href="{SETTINGS_URL}?next=/backoffice/payments/%3Fstatus%3Dfailed"' in html

    def test_it_saves_and_redirects_back(self, finance_user, finance: Client):
        response = finance.post(
            SETTINGS_URL, {"time_zone": "Asia/Tokyo", "next": "/backoffice/payments/?sort=id"}
        )
        assert response.status_code == 302
        assert response["Location"] == "/backoffice/payments/?sort=id"
        finance_user.refresh_from_db()
        assert finance_user.time_zone == "Asia/Tokyo"
        html = finance.get(response["Location"]).content.decode()
        assert "Times are now shown in Asia/Tokyo." in html
        assert "Times in Asia/Tokyo" in html

    def test_blank_goes_back_to_the_site_zone(self, tokyo_user, tokyo: Client):
        response = tokyo.post(SETTINGS_URL, {"time_zone": ""})
        assert response.status_code == 302
        assert response["Location"] == SETTINGS_URL
        tokyo_user.refresh_from_db()
        assert tokyo_user.time_zone == ""

    def test_an_unknown_zone_is_a_400_with_the_reason(self, finance_user, finance: Client):
        response = finance.post(SETTINGS_URL, {"time_zone": "Mars/Olympus_Mons"})
        assert response.status_code == 400
        html = response.content.decode()
        assert "Unknown time zone: Mars/Olympus_Mons." in html
        finance_user.refresh_from_db()
        assert finance_user.time_zone == ""

    @pytest.mark.parametrize(
        "target",
        [
            "https://evil.example/",
            "//evil.example/backoffice/",
            "/\\evil.example/",
            "http://testserver/backoffice/",
            "javascript:alert(1)",
            "backoffice/payments/",
        ],
    )
    def test_a_redirect_off_this_site_is_refused(self, finance_user, finance: Client, target):
        response = finance.post(SETTINGS_URL, {"time_zone": "Asia/Tokyo", "next": target})
        assert response.status_code == 400
        html = response.content.decode()
        assert "The page to go back to must be a page of this site." in html
        assert 'name="next" value=""' in html
        finance_user.refresh_from_db()
        assert finance_user.time_zone == ""

    def test_a_foreign_next_is_not_carried_into_the_form(self, finance: Client):
        html = finance.get(SETTINGS_URL, {"next": "https://evil.example/"}).content.decode()
        assert "evil.example" not in html

    def test_it_needs_csrf(self, finance_user):
        client = Client(enforce_csrf_checks=True)
        client.force_login(finance_user)
        assert client.post(SETTINGS_URL, {"time_zone": "Asia/Tokyo"}).status_code == 403

    def test_it_is_for_staff_only(self, client: Client):
        client.force_login(factories.user("carol"))  # a customer
        assert client.get(SETTINGS_URL).status_code == 403
        assert client.post(SETTINGS_URL, {"time_zone": "Asia/Tokyo"}).status_code == 403
