"""Login and permissions, checked by the server on every request."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from payments.models import Refund
from tests import factories

pytestmark = pytest.mark.django_db

PAGES = [
    ("backoffice:dashboard", []),
    ("backoffice:payments", []),
    ("backoffice:payments_csv", []),
    ("backoffice:refunds", []),
    ("backoffice:refunds_csv", []),
    ("backoffice:webhook_events", []),
]


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_anonymous_is_sent_to_login(client: Client, name, args):
    url = reverse(name, args=args)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_anonymous_is_sent_to_login_from_a_payment(client: Client):
    p = factories.payment()
    response = client.get(reverse("backoffice:payment_detail", args=[p.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_anonymous_refund_post_is_sent_to_login_and_refunds_nothing(client: Client):
    p = factories.payment()
    response = client.post(
        reverse("backoffice:payment_refund", args=[p.pk]),
        {"step": "confirm", "amount": "10.00", "reason": "duplicate", "token": "a" * 32},
    )
    assert response.status_code == 302
    assert not Refund.objects.exists()


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_a_user_without_a_role_is_forbidden(client: Client, name, args):
    client.force_login(factories.user())
    assert client.get(reverse(name, args=args)).status_code == 403


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_support_sees_every_list(support: Client, name, args):
    assert support.get(reverse(name, args=args)).status_code == 200


def test_root_redirects_to_the_back_office(client: Client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("backoffice:dashboard")


def test_login_page_is_styled_and_labelled(client: Client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/static/css/app.css"' in html
    assert '<label for="id_username">Username</label>' in html
    assert '<label for="id_password">Password</label>' in html


def test_logging_in_lands_on_the_dashboard(client: Client, finance_user):
    response = client.post(
        reverse("login"), {"username": "fiona", "password": "pw-for-tests"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("backoffice:dashboard")
    assert response.status_code == 200


def test_support_sees_no_refund_form(support: Client):
    p = factories.payment()
    response = support.get(reverse("backoffice:payment_detail", args=[p.pk]))
    assert response.status_code == 200
    assert b'id="refund-panel"' not in response.content
    assert b"Review refund" not in response.content


@pytest.mark.parametrize("step", ["review", "confirm", "edit"])
def test_support_is_forbidden_to_refund_even_by_a_forged_post(support: Client, step):
    p = factories.payment()
    response = support.post(
        reverse("backoffice:payment_refund", args=[p.pk]),
        {"step": step, "amount": "10.00", "reason": "duplicate", "token": "a" * 32},
    )
    assert response.status_code == 403
    assert not Refund.objects.exists()
    p.refresh_from_db()
    assert p.amount_refunded == Decimal("0")


def test_refund_url_refuses_get(finance: Client):
    p = factories.payment()
    assert finance.get(reverse("backoffice:payment_refund", args=[p.pk])).status_code == 405


def test_support_may_not_replay_webhook_events(support: Client):
    from payments.models import StripeWebhookEvent

    event = StripeWebhookEvent.objects.create(
        stripe_event_id="evt_1", event_type="charge.refunded", data={}, status="failed"
    )
    response = support.post(reverse("backoffice:webhook_event_replay", args=[event.pk]))
    assert response.status_code == 403
    page = support.get(reverse("backoffice:webhook_event_detail", args=[event.pk]))
    assert b"Replay event" not in page.content


def test_unknown_payment_is_404(finance: Client):
    assert finance.get(reverse("backoffice:payment_detail", args=[999999])).status_code == 404


def test_pages_send_a_content_security_policy_without_inline_scripts(finance: Client):
    response = finance.get(reverse("backoffice:payments"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    html = response.content.decode()
    assert "<script>" not in html
    assert "django_htmx/htmx-2.min.js" in html
    assert '"includeIndicatorStyles":false' in html


def test_pages_answer_head_requests(finance: Client):
    assert finance.head(reverse("backoffice:payments")).status_code == 200
