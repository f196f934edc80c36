"""The PostgreSQL export (COPY, formatted in SQL) writes the very bytes the Python path writes,
for the same rows: currencies of 0, 2 and 3 decimals, zones east, west and half-hour, times with
and without microseconds, nulls, and text with commas, quotes, newlines and formula starts."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.db import connection

from backoffice import csv_copy
from backoffice.views.common import csv_chunks, csv_python
from backoffice.views.disputes import DISPUTE_COLUMNS
from backoffice.views.lists import PAYMENT_COLUMNS, REFUND_COLUMNS, WEBHOOK_EVENT_COLUMNS
from payments.models import Dispute, Payment, Refund, StripeWebhookEvent
from tests import factories

pytestmark = pytest.mark.django_db

ZONES = ["UTC", "Asia/Tokyo", "America/St_Johns", "Asia/Kolkata", "Europe/Berlin"]
NASTY = [
    "plain",
    "comma, inside",
    'a "quoted" word',
    "two\nlines",
    "cr\r\nlf",
    "=SUM(A1:A9)",
    "+31 20 123",
    "-2",
    "@cmd",
    "\ttab first",
    "trailing\n",
    '"',
    "ünïcødé €",
    "",
]


def _bytes(chunks) -> bytes:
    return b"".join(c.encode() if isinstance(c, str) else c for c in chunks)


def _rows():
    """Payments, refunds, disputes and events covering every kind of cell the exports write."""
    winter = dt.datetime(2026, 1, 15, 23, 30, 5, tzinfo=dt.UTC)
    summer = dt.datetime(2026, 7, 1, 0, 0, 0, 123456, tzinfo=dt.UTC)
    amounts = [("12.340", "KWD"), ("1500", "JPY"), ("99.99", "EUR"), ("0.10", "USD")]
    payments = []
    for i, text in enumerate(NASTY):
        total, currency = amounts[i % len(amounts)]
        owner = factories.user(email=f"{text}@example.com" if text else "")
        p = factories.payment(
            factories.order(owner, total=total, currency=currency),
            card_brand=text,
            payment_method=text[:20],
            stripe_charge_id=text,
            dispute_status=text[:32],
        )
        Payment.objects.filter(pk=p.pk).update(created_at=winter if i % 2 else summer)
        payments.append(p)
        refund = factories.refund(p, amount="0.010" if currency == "KWD" else "1")
        Refund.objects.filter(pk=refund.pk).update(description=text, failure_reason=text)
        Dispute.objects.create(
            stripe_dispute_id=f"dp_{i}",
            payment=p,
            amount=p.amount,
            currency=currency,
            reason=text or "general",
            status="needs_response",
            is_charge_refundable=bool(i % 2),
            evidence_due_by=summer if i % 3 else None,
            balance_net=-p.amount if i % 2 else Decimal("0"),
            balance_currency=currency if i % 2 else "",
            stripe_created_at=winter,
        )
        StripeWebhookEvent.objects.create(
            stripe_event_id=f"evt_{i}",
            event_type="payment_intent.succeeded",
            data={"k": text},
            payment=p if i % 2 else None,
            stripe_object_id=text,
            stripe_created_at=summer if i % 2 else None,
            processed_at=winter if i % 3 else None,
            processing_error=text,
            delivery_count=i + 1,
        )
    return payments


EXPORTS = [
    (Payment.objects.order_by("-created_at", "-id"), PAYMENT_COLUMNS),
    (Refund.objects.order_by("-created_at", "-id"), REFUND_COLUMNS),
    (Dispute.objects.order_by("-id"), DISPUTE_COLUMNS),
    (StripeWebhookEvent.objects.order_by("-received_at", "-id"), WEBHOOK_EVENT_COLUMNS),
]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
@pytest.mark.parametrize("zone_name", ZONES)
def test_copy_writes_the_bytes_python_writes(zone_name):
    _rows()
    zone = zoneinfo.ZoneInfo(zone_name)
    for queryset, columns in EXPORTS:
        assert csv_copy.copy_sql(queryset, columns, zone) is not None
        from_copy = _bytes(csv_chunks(queryset, columns, zone))
        from_python = _bytes(csv_python(queryset, columns, zone))
        assert from_copy == from_python
        assert from_copy.count(b"\r\n") >= queryset.count() + 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_copy_hands_the_server_blocks_not_rows(monkeypatch):
    """psycopg reads COPY a row at a time; the export yields blocks of at least
    COPY_CHUNK_BYTES (the last may be shorter), the same bytes: not one socket write a row."""
    _rows()
    queryset, columns = EXPORTS[0]
    zone = zoneinfo.ZoneInfo("UTC")
    whole = _bytes(csv_chunks(queryset, columns, zone))
    monkeypatch.setattr(csv_copy, "COPY_CHUNK_BYTES", 300)
    header, *blocks = list(csv_chunks(queryset, columns, zone))
    assert len(blocks) >= 2
    assert all(len(block) >= 300 for block in blocks[:-1])
    assert _bytes([header, *blocks]) == whole


def test_coalesced_keeps_every_byte_in_order():
    pieces = [bytes([i]) * i for i in range(1, 40)]
    for size in (1, 7, 100, 10_000):
        out = list(csv_copy.coalesced(iter(pieces), size))
        assert b"".join(out) == b"".join(pieces)
        assert all(len(block) >= size for block in out[:-1])


def test_a_newline_inside_a_quoted_cell_stays_wherever_the_blocks_are_cut():
    copy_output = b'1,"a\nb",x\n2,"\n""\n",y\n'
    for cut in range(len(copy_output) + 1):
        blocks = [copy_output[:cut], copy_output[cut:]]
        assert b"".join(csv_copy.crlf_rows(blocks)) == b'1,"a\nb",x\r\n2,"\n""\n",y\r\n'


def test_json_columns_keep_the_python_path():
    from audit.models import AuditEntry
    from backoffice.views.audit import AUDIT_COLUMNS

    zone = zoneinfo.ZoneInfo("UTC")
    assert csv_copy.copy_sql(AuditEntry.objects.all(), AUDIT_COLUMNS, zone) is None
