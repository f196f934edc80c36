"""Each staff action and job run this app records: who, from which address, before -> after."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from audit.context import audit_context
from audit.middleware import AuditContextMiddleware
from audit.models import AuditEntry
from audit.services import audit_record
from payments import stripe_client, tasks
from payments.models import Payment, Refund, StripeWebhookEvent
from tests import factories
from tests.payments.webhook_helpers import SECRET, deliver, event
from tests.payments.webhook_helpers import charge as webhook_charge

pytestmark = pytest.mark.django_db

Action = AuditEntry.Action


def run(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _record(**fields) -> AuditEntry:
    return audit_record(
        action=Action.PAYMENT_REFRESHED, summary="s", object_type="payment", **fields
    )


# --- Who and from where ---------------------------------------------------------------------


def test_a_service_deep_below_a_view_records_the_requests_user_and_address(fiona, settings):
    settings.NUM_PROXIES = 1
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9"
    )
    request.user = fiona
    written = []

    def view(request):
        written.append(_record())  # no request, no actor: as a service records
        return HttpResponse()

    AuditContextMiddleware(view)(request)
    entry = written[0]
    assert (entry.actor, entry.actor_label, entry.ip_address) == (
        fiona,
        "fiona@example.com",
        "203.0.113.9",  # the address the one proxy saw, not what the client claimed before it
    )


def test_an_address_the_column_cannot_hold_is_left_out_not_a_failure(fiona, settings):
    settings.NUM_PROXIES = 1
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="not-an-address")
    request.user = fiona
    assert _record(request=request).ip_address is None


def test_a_job_records_its_name_and_no_person():
    with audit_context(actor_label="reconcile (scheduled)"):
        entry = _record()
    assert (entry.actor, entry.actor_label, entry.ip_address) == (
        None,
        "reconcile (scheduled)",
        None,
    )
    assert _record().actor_label == "system"  # outside any request or job


# --- Webhook replay -------------------------------------------------------------------------


@pytest.fixture
def failed_event(client, stripe_sandbox, settings) -> StripeWebhookEvent:
    """A charge.refunded whose delivery failed because Stripe was down."""
    paid = factories.paid_payment(stripe_sandbox, total="40.00")
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    stripe_sandbox.api(
        "POST", "/v1/refunds", {"payment_intent": paid.stripe_payment_intent_id, "amount": 1000}
    )
    stripe_sandbox.inject_fault("GET", "/v1/refunds", kind="500", count=1)
    evt = event("charge.refunded", webhook_charge(paid), id_="evt_audit_failed")
    assert deliver(client, evt).status_code == 500
    return StripeWebhookEvent.objects.get()


def test_a_replay_from_the_event_page_records_who_and_the_status(finance, fiona, failed_event):
    response = finance.post(reverse("backoffice:webhook_event_replay", args=[failed_event.pk]))
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action=Action.WEBHOOK_REPLAYED)
    payment = Payment.objects.get()
    assert (entry.actor, entry.ip_address) == (fiona, "127.0.0.1")
    assert (entry.object_type, entry.object_id, entry.payment_id) == (
        "webhook_event",
        "evt_audit_failed",
        payment.pk,
    )
    assert (entry.before, entry.after) == ({"status": "failed"}, {"status": "processed"})
    assert "evt_audit_failed (charge.refunded) replayed: processed" in entry.summary


def test_a_replay_that_fails_again_is_recorded_with_its_error(failed_event, stripe_sandbox):
    stripe_sandbox.inject_fault("GET", "/v1/refunds", kind="500", count=1)
    with pytest.raises(Exception, match="still fail"):
        run("replay_webhook_events", "--failed")
    entry = AuditEntry.objects.get(action=Action.WEBHOOK_REPLAYED)
    assert (entry.actor, entry.actor_label) == (None, "replay_webhook_events (command)")
    assert entry.after["status"] == "failed"
    assert entry.after["processing_error"].startswith("ProviderUnavailable")


def test_applying_an_event_the_first_time_is_no_replay(failed_event):
    assert not AuditEntry.objects.filter(action=Action.WEBHOOK_REPLAYED).exists()


# --- Refresh from Stripe --------------------------------------------------------------------


def test_a_refresh_records_the_books_before_and_after(finance, fiona, stripe_sandbox):
    paid = factories.paid_payment(stripe_sandbox, total="40.00")
    # Refunded in Stripe's Dashboard: no webhook reaches us.
    stripe_sandbox.api(
        "POST", "/v1/refunds", {"payment_intent": paid.stripe_payment_intent_id, "amount": 1000}
    )
    response = finance.post(
        reverse("backoffice:payment_refresh", args=[paid.pk]), REMOTE_ADDR="192.0.2.7"
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action=Action.PAYMENT_REFRESHED)
    assert (entry.actor, entry.ip_address, entry.payment_id) == (fiona, "192.0.2.7", paid.pk)
    assert (entry.before["status"], entry.before["amount_refunded"]) == ("succeeded", "0.00")
    assert (entry.after["status"], entry.after["amount_refunded"]) == (
        "partially_refunded",
        "10.00",
    )
    assert len(entry.after["refunds"]) == 1
    assert "succeeded -> partially_refunded, refunded 0.00 -> 10.00 EUR" in entry.summary


def test_a_refresh_that_changes_nothing_is_still_recorded(finance, stripe_sandbox):
    paid = factories.paid_payment(stripe_sandbox, total="40.00")
    finance.post(reverse("backoffice:payment_refresh", args=[paid.pk]))
    entry = AuditEntry.objects.get(action=Action.PAYMENT_REFRESHED)
    assert entry.before == entry.after
    assert entry.summary.endswith("no change")


def test_a_customers_status_check_is_not_a_refresh(stripe_sandbox):
    factories.paid_payment(stripe_sandbox)  # syncs from Stripe, as the status check does
    assert not AuditEntry.objects.exists()


# --- Reconcile ------------------------------------------------------------------------------


@pytest.fixture
def stale(stripe_sandbox) -> Payment:
    """Paid, then refunded in full at Stripe with no webhook."""
    paid = factories.paid_payment(stripe_sandbox, total="60.00")
    stripe_sandbox.api(
        "POST", "/v1/refunds", {"payment_intent": paid.stripe_payment_intent_id, "amount": 6000}
    )
    return paid


def test_a_reconcile_run_records_what_it_changed(stale):
    run("reconcile_payments", "--since", "1d")
    entry = AuditEntry.objects.get(action=Action.RECONCILE_RUN)
    assert (entry.actor, entry.actor_label, entry.ip_address) == (
        None,
        "reconcile_payments (command)",
        None,
    )
    assert (entry.object_type, entry.payment_id) == ("job", None)
    key = str(stale.pk)
    assert set(entry.before["payments"]) == set(entry.after["payments"]) == {key}
    assert (entry.before["payments"][key]["status"], entry.after["payments"][key]["status"]) == (
        "succeeded",
        "refunded",
    )
    assert entry.after["payments"][key]["amount_refunded"] == "60.00"
    assert "1 changed" in entry.summary
    assert f"payment #{stale.pk}" in entry.summary
    # A run that changes nothing records nothing.
    run("reconcile_payments", "--since", "1d")
    assert AuditEntry.objects.filter(action=Action.RECONCILE_RUN).count() == 1


def test_the_scheduled_reconcile_names_itself(stale):
    assert tasks.payments_reconcile_recent() == 1
    entry = AuditEntry.objects.get(action=Action.RECONCILE_RUN)
    assert entry.actor_label == "reconcile (scheduled)"


# --- The refund sweep -----------------------------------------------------------------------


class _WorkerKilled(BaseException):
    """The process died in the middle of the Stripe call."""


@pytest.fixture
def orphan(fiona, stripe_sandbox, monkeypatch) -> Refund:
    """A refund held in our books whose send never happened (the worker died), long ago."""
    paid = factories.paid_payment(stripe_sandbox, total="100.00")

    def killed(**kwargs):
        raise _WorkerKilled

    with monkeypatch.context() as patch:
        patch.setattr(stripe_client, "refund_create", killed)
        with pytest.raises(_WorkerKilled):
            factories.api_client(fiona).post(
                "/api/payments/refunds/create_refund/",
                {"payment_id": paid.pk, "amount": "25.00"},
                format="json",
            )
    refund = Refund.objects.get()
    Refund.objects.filter(pk=refund.pk).update(sent_at=timezone.now() - timedelta(hours=1))
    return refund


def test_a_sweep_run_records_the_refunds_it_settled(orphan):
    assert "Settled 1" in run("settle_refunds")
    entry = AuditEntry.objects.get(action=Action.SWEEP_RUN)
    assert (entry.actor, entry.actor_label) == (None, "settle_refunds (command)")
    payment, refund = str(orphan.payment_id), str(orphan.pk)
    assert entry.before["payments"][payment]["refunds"][refund] == {"status": "pending"}
    settled = entry.after["payments"][payment]["refunds"][refund]
    assert settled["status"] == "succeeded" and settled["stripe_refund_id"].startswith("re_")
    assert entry.after["payments"][payment]["amount_refunded"] == "25.00"
    assert f"refund #{orphan.pk} of payment #{orphan.payment_id}: pending -> succeeded" in (
        entry.summary
    )
    # A sweep with nothing to settle records nothing.
    run("settle_refunds")
    assert AuditEntry.objects.filter(action=Action.SWEEP_RUN).count() == 1


def test_the_scheduled_sweep_names_itself(orphan):
    assert tasks.refunds_settle() == 1
    entry = AuditEntry.objects.get(action=Action.SWEEP_RUN)
    assert entry.actor_label == "refund sweep (scheduled)"
    assert Payment.objects.get(pk=orphan.payment_id).amount_refunded == Decimal("25.00")


def test_a_sweep_run_shows_on_the_payments_timeline(orphan, finance: Client):
    run("settle_refunds")
    page = finance.get(reverse("backoffice:payment_detail", args=[orphan.payment_id]))
    section = page.content.decode().split('data-testid="payment-audit"')[1]
    assert "Refund sweep run" in section and "settle_refunds (command)" in section
    assert f"refunds.{orphan.pk}.status</span>: pending → succeeded" in section
