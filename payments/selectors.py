"""Reads for the back-office pages: QuerySets shaped for one page each.

Every list is built to stay fast at a million rows: filters and sorts hit the indexes declared in
payments.models (each paired with the creation date), related rows come in the same query
(select_related), big columns such as webhook payloads are left out of lists, and nothing here
counts a whole table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from audit.models import AuditEntry
from payments.list_counts import CurrencyTotal, count_up_to
from payments.models import (
    AMOUNT_QUANTUM,
    DASHBOARD_BUCKET,
    DashboardKind,
    DashboardTotal,
    Dispute,
    Payment,
    Refund,
    StripeWebhookEvent,
    StripeWebhookRefusal,
)
from shop.models import CustomUser


def payment_list() -> QuerySet[Payment]:
    """Payments for the list page and its CSV, newest first, with the customer in one query."""
    return (
        Payment.objects.select_related("user")
        .only(
            "id",
            "order_id",
            "user__id",
            "user__email",
            "stripe_payment_intent_id",
            "stripe_charge_id",
            "amount",
            "currency",
            "status",
            "dispute_status",
            "payment_method",
            "amount_refunded",
            "card_brand",
            "card_last4",
            "created_at",
        )
        .order_by("-created_at", "-id")
    )


def payment_search(queryset: QuerySet[Payment], term: str) -> QuerySet[Payment]:
    """Narrow payments to those a search term names, each kind of term by its own index.

    The kind is told by the term's shape, so that each search is one index lookup rather than an
    OR over every column (which no index can serve): an order number ("1234" or "#1234"); a
    PaymentIntent, charge or refund id, or the start of one ("pi_3M", "ch_", "re_": prefix
    indexes); otherwise part of the customer's email or name, any case (trigram indexes on
    PostgreSQL; see migration 0015).
    """
    term = term.strip()
    if not term:
        return queryset
    digits = term.removeprefix("#")
    if digits.isdigit():
        if int(digits) > 2**63 - 1:  # no row has such a number (and the database would refuse it)
            return queryset.none()
        return queryset.filter(order_id=int(digits))
    if term.startswith("pi_"):
        return queryset.filter(stripe_payment_intent_id__startswith=term)
    if term.startswith(("ch_", "py_")):
        return queryset.filter(stripe_charge_id__startswith=term)
    if term.startswith(("re_", "pyr_")):
        refunds = Refund.objects.filter(stripe_refund_id__startswith=term).values("payment_id")
        return queryset.filter(pk__in=refunds)
    # The customers are matched once (trigram scans of three columns), not again in each of the
    # page's queries (its rows, count and totals): up to a few hundred, their ids are the filter.
    matching = customers_matching(term).values_list("pk", flat=True)
    ids = list(matching[: SEARCH_CUSTOMER_IDS + 1])
    if len(ids) <= SEARCH_CUSTOMER_IDS:
        return queryset.filter(user_id__in=ids)
    return queryset.filter(user_id__in=matching)


# Up to this many customers matching a search are looked up once and passed on as ids.
SEARCH_CUSTOMER_IDS = 500


def customers_matching(term: str) -> QuerySet[CustomUser]:
    """Customers whose email or name contains the term, any case (trigram indexes on
    PostgreSQL, migration 0015): the payments search's last resort, and the admin's. A term
    with an "@" is part of an email, never of a name: only the emails are searched (the names'
    trigram scans for a whole address took four fifths of the search)."""
    if "@" in term:
        return CustomUser.objects.filter(email__icontains=term)
    return CustomUser.objects.filter(
        Q(email__icontains=term) | Q(first_name__icontains=term) | Q(last_name__icontains=term)
    )


def payment_detail(*, payment_id: int) -> Payment:
    """One payment with its order and customer; raises Payment.DoesNotExist."""
    return Payment.objects.select_related("order", "user").get(pk=payment_id)


def payment_attempts(*, payment: Payment) -> QuerySet[Payment]:
    """Every checkout attempt of the payment's order (one payment per PaymentIntent), first
    first: the payment page's "Checkout attempts"."""
    return Payment.objects.filter(order_id=payment.order_id).order_by("intent_attempt", "id")


def payment_refunds(*, payment: Payment) -> QuerySet[Refund]:
    return payment.refunds.select_related("created_by", "approved_by", "rejected_by").order_by(
        "-created_at", "-id"
    )


def payment_webhook_events(*, payment: Payment) -> QuerySet[StripeWebhookEvent]:
    """The payment's timeline, oldest first, without payloads (index payments_evt_payment)."""
    return (
        StripeWebhookEvent.objects.filter(payment=payment)
        .defer("data")
        .order_by("stripe_created_at", "received_at", "id")
    )


def refund_list() -> QuerySet[Refund]:
    return (
        Refund.objects.select_related("payment", "created_by")
        .only(
            "id",
            "stripe_refund_id",
            "amount",
            "status",
            "reason",
            "description",
            "failure_reason",
            "created_at",
            "payment__id",
            "payment__currency",
            "payment__order_id",
            "payment__stripe_payment_intent_id",
            "created_by__id",
            "created_by__username",
        )
        .order_by("-created_at", "-id")
    )


def webhook_event_list() -> QuerySet[StripeWebhookEvent]:
    """Events for the list page: everything but the payload."""
    return StripeWebhookEvent.objects.defer("data").order_by("-received_at", "-id")


def webhook_event_search(
    queryset: QuerySet[StripeWebhookEvent], term: str
) -> QuerySet[StripeWebhookEvent]:
    """The start of an event's id (evt_…), or of the id of the object it carries (prefix
    indexes, migration 0015)."""
    term = term.strip()
    if not term:
        return queryset
    if term.startswith("evt_"):
        return queryset.filter(stripe_event_id__startswith=term)
    return queryset.filter(stripe_object_id__startswith=term)


def webhook_refusals_recent(*, days: int = 7, limit: int = 5) -> list[StripeWebhookRefusal]:
    """Signed deliveries refused as malformed lately (newest first; a small table)."""
    since = timezone.now() - dt.timedelta(days=days)
    return list(StripeWebhookRefusal.objects.filter(received_at__gte=since)[:limit])


def webhook_event_detail(*, event_id: int) -> StripeWebhookEvent:
    return StripeWebhookEvent.objects.select_related("payment").get(pk=event_id)


# --- Dashboard ------------------------------------------------------------------------------------

# Money has been taken (some may have gone back since): what counts as a successful payment.
_SUCCEEDED = (
    Payment.Status.SUCCEEDED,
    Payment.Status.PARTIALLY_REFUNDED,
    Payment.Status.REFUNDED,
)
# Attempts that ended: the denominator of the success rate (pending ones have not ended yet).
_ENDED = (*_SUCCEEDED, Payment.Status.FAILED, Payment.Status.CANCELLED)


@dataclass(frozen=True)
class PeriodSummary:
    days: int
    count: int
    volume: list[CurrencyTotal]  # succeeded payments, per currency (currencies never add up)
    refunded: list[CurrencyTotal]  # refunds that succeeded, per currency
    success_rate: Decimal | None  # None when no payment ended in the period
    # Disputes lost in the period, per currency: money out, like refunds.
    disputes_lost: list[CurrencyTotal] = field(default_factory=list)
    currencies: list[str] = field(default_factory=list)  # with any payment in the period


def _hour_floor(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def _hour_ceil(moment: dt.datetime) -> dt.datetime:
    floor = _hour_floor(moment)
    return floor if floor == moment else floor + DASHBOARD_BUCKET


def _merged(*row_sets: Any, keys: tuple[str, ...]) -> list[dict]:
    """Rows of several grouped queries over disjoint time ranges, summed by `keys`, with the
    groups that net to no row left out (as a GROUP BY over the rows would). Sums of amounts
    come back exact to AMOUNT_PLACES: SQLite keeps decimals as floating point, and its sums of
    the summary's signed deltas were off by a few 1e-12 (PostgreSQL's NUMERIC is exact)."""
    merged: dict[tuple, dict] = {}
    for rows in row_sets:
        for row in rows:
            key = tuple(row[k] for k in keys)
            into = merged.setdefault(key, {**dict(zip(keys, key, strict=True)), "n": 0})
            for name, value in row.items():
                if name not in keys:
                    into[name] = into.get(name, 0) + (value or 0)
    for row in merged.values():
        for name, value in row.items():
            if isinstance(value, Decimal):
                row[name] = value.quantize(AMOUNT_QUANTUM)
    return [row for key, row in sorted(merged.items()) if row["n"]]


def _window_totals(kind: str, *, since: dt.datetime, keys: tuple[str, ...]) -> QuerySet:
    """The summary's rows (compacted and not) from the first whole hour at or after `since`."""
    return (
        DashboardTotal.objects.filter(kind=kind, bucket__gte=_hour_ceil(since))
        .order_by()
        .values(*keys)
        .annotate(n=Sum("n"), total=Sum("amount"))
    )


def _payment_window(since: dt.datetime) -> list[dict]:
    """(currency, status, n, total) of the payments created since `since`: whole hours from the
    summary, the part of an hour before them from the payments (the created_at index)."""
    edge = (
        Payment.objects.filter(created_at__gte=since, created_at__lt=_hour_ceil(since))
        .order_by()
        .values("currency", "status")
        .annotate(n=Count("id"), total=Sum("amount"))
    )
    keys = ("currency", "status")
    return _merged(_window_totals(DashboardKind.PAYMENT, since=since, keys=keys), edge, keys=keys)


def _refund_window(since: dt.datetime) -> list[dict]:
    """(currency, n, total) of the refunds that succeeded, created since `since`."""
    succeeded = Refund.Status.SUCCEEDED
    whole = _window_totals(DashboardKind.REFUND, since=since, keys=("currency",)).filter(
        status=succeeded
    )
    edge = (
        Refund.objects.filter(
            created_at__gte=since, created_at__lt=_hour_ceil(since), status=succeeded
        )
        .order_by()
        .values(currency=F("payment__currency"))
        .annotate(n=Count("id"), total=Sum("amount"))
    )
    return _merged(whole, edge, keys=("currency",))


def dashboard_period(*, days: int, now: dt.datetime | None = None) -> PeriodSummary:
    """Counts and totals for the last `days` days, exact to the microsecond at the window's
    start: the dashboard summary's whole hours plus the first part-hour read from the rows
    (a few hundred at a million payments), never a scan of all payments."""
    since = (now or timezone.now()) - dt.timedelta(days=days)
    payments = _payment_window(since)
    by_status: dict[str, int] = {}
    volume: dict[str, CurrencyTotal] = {}
    for row in payments:
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["n"]
        if row["status"] in _SUCCEEDED:
            was = volume.get(row["currency"], CurrencyTotal(row["currency"], Decimal(0), 0))
            volume[row["currency"]] = CurrencyTotal(
                row["currency"], was.amount + row["total"], was.count + row["n"]
            )
    refunded = [CurrencyTotal(r["currency"], r["total"], r["n"]) for r in _refund_window(since)]
    disputes_lost = [
        CurrencyTotal(row["currency"], row["total"], row["n"])
        for row in Dispute.objects.filter(status=Dispute.Status.LOST, closed_at__gte=since)
        .values("currency")
        .annotate(total=Sum("amount"), n=Count("id"))
        .order_by("currency")
    ]
    ended = sum(by_status.get(s, 0) for s in _ENDED)
    succeeded = sum(by_status.get(s, 0) for s in _SUCCEEDED)
    rate = (Decimal(succeeded) * 100 / ended).quantize(Decimal("0.1")) if ended else None
    return PeriodSummary(
        days=days,
        count=sum(by_status.values()),
        volume=[volume[c] for c in sorted(volume)],
        refunded=refunded,
        success_rate=rate,
        disputes_lost=disputes_lost,
        currencies=sorted({row["currency"] for row in payments}),
    )


def _split_hours(since: dt.datetime, until: dt.datetime) -> list[dt.datetime]:
    """The hours (UTC) after `since`'s first whole hour in which one of the viewer's days ends:
    in a +05:30 or +05:45 zone, every day; in whole-hour zones, none."""
    zone = timezone.get_current_timezone()
    day = timezone.localtime(since, zone).date()
    last = timezone.localtime(until, zone).date() + dt.timedelta(days=1)
    hours = set()
    while day <= last:
        day += dt.timedelta(days=1)
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
        hour = _hour_floor(midnight)
        if hour != midnight and hour >= _hour_ceil(since):
            hours.add(hour)
    return sorted(hours)


def dashboard_daily_volume(
    *, currency: str, days: int = 30, now: dt.datetime | None = None
) -> list[dict]:
    """Rows of (day, status, total, refunded, n) for one currency over the last `days` days, by
    the viewer's days (the active time zone).

    `refunded` sums the payments' amount_refunded, so that the chart shows what went back rather
    than the whole of a refunded payment. The summary's hours give every hour that lies within
    one of the viewer's days; the part-hour at the window's start and the hours a viewer's
    midnight cuts (zones at :30 and :45) are read from the payments, by the
    (currency, created_at) index.
    """
    now = now or timezone.now()
    since = now - dt.timedelta(days=days)
    split = _split_hours(since, now)
    keys = ("day", "status")
    whole = (
        DashboardTotal.objects.filter(
            kind=DashboardKind.PAYMENT, currency=currency, bucket__gte=_hour_ceil(since)
        )
        .exclude(bucket__in=split)
        .order_by()
        .annotate(day=TruncDate("bucket"))
        .values(*keys)
        .annotate(total=Sum("amount"), refunded=Sum("amount_refunded"), n=Sum("n"))
    )
    cut = Q(created_at__gte=since, created_at__lt=_hour_ceil(since))
    for hour in split:
        cut |= Q(created_at__gte=hour, created_at__lt=hour + DASHBOARD_BUCKET)
    edges = (
        Payment.objects.filter(cut, currency=currency)
        .order_by()
        .annotate(day=TruncDate("created_at"))
        .values(*keys)
        .annotate(total=Sum("amount"), refunded=Sum("amount_refunded"), n=Count("id"))
    )
    return _merged(whole, edges, keys=keys)


def dashboard_currencies(*, days: int = 30, now: dt.datetime | None = None) -> list[str]:
    """Currencies with payments in the period (for the chart's currency picker), from the
    dashboard summary; the dashboard itself takes them from its 30-day period's figures."""
    return dashboard_period(days=days, now=now).currencies


# "Needs attention" counts stop here: past it the number says "more than anyone can go through
# one by one", and counting on (10,000,000 payments' worth of failed events) costs a table scan.
ATTENTION_CAP = 1000


def webhook_events_needing_attention() -> int:
    """Failed events: Stripe is retrying them or someone should replay them (capped count)."""
    return count_up_to(
        StripeWebhookEvent.objects.filter(status=StripeWebhookEvent.Status.FAILED),
        ATTENTION_CAP,
    )


@dataclass(frozen=True)
class RefundsAttention:
    waiting: int  # Stripe has not confirmed them: their amounts are held
    failed: int  # failed in the last `failed_days` days: the customer has not been refunded
    failed_days: int
    failed_since: dt.date
    awaiting: int = 0  # a second person must approve or reject them: their amounts are held


def refunds_needing_attention(
    *, failed_days: int = 30, now: dt.datetime | None = None
) -> RefundsAttention:
    """Refunds someone should look at (small index scans: the partial indexes of unanswered
    and of awaiting refunds, and (status, created_at)); counts capped at ATTENTION_CAP."""
    since = (now or timezone.now()) - dt.timedelta(days=failed_days)
    return RefundsAttention(
        waiting=count_up_to(Refund.objects.filter(Refund.UNANSWERED), ATTENTION_CAP),
        failed=count_up_to(
            Refund.objects.filter(status=Refund.Status.FAILED, created_at__gte=since),
            ATTENTION_CAP,
        ),
        failed_days=failed_days,
        failed_since=timezone.localdate(since),
        awaiting=count_up_to(
            Refund.objects.filter(status=Refund.Status.AWAITING_APPROVAL), ATTENTION_CAP
        ),
    )


def refunds_awaiting_approval() -> QuerySet[Refund]:
    """Refunds a second person must decide, oldest first (the partial index of awaiting
    refunds: a small set at any size), with their payment and requester in one query."""
    return (
        Refund.objects.filter(status=Refund.Status.AWAITING_APPROVAL)
        .select_related("payment", "created_by")
        .order_by("created_at", "id")
    )


def refund_for_decision(*, refund_id: int) -> Refund:
    """One refund with its payment, requester and deciders; raises Refund.DoesNotExist."""
    return Refund.objects.select_related("payment", "created_by", "approved_by", "rejected_by").get(
        pk=refund_id
    )


def users_who_may_refund() -> QuerySet[CustomUser]:
    """People who may refund (Finance, direct grants, superusers): the refunds filter's choices.

    One query: the ids are a union of the superusers (a partial index of staff and superusers),
    the members of groups granted `add_refund` and those granted it directly (two small
    permission tables), rather than `with_perm`'s joins or an OR over every customer, which
    scan the users table (a tenth of a second at ten thousand customers).
    """
    grant = Q(permission__codename="add_refund", permission__content_type__app_label="payments")
    groups = Group.permissions.through.objects.filter(grant).values("group_id")  # type: ignore[attr-defined]
    via_group = CustomUser.groups.through.objects.filter(group_id__in=groups)  # type: ignore[attr-defined]
    direct = CustomUser.user_permissions.through.objects.filter(grant)  # type: ignore[attr-defined]
    superusers = CustomUser.objects.filter(is_superuser=True).values("pk")
    ids = superusers.union(via_group.values("customuser_id"), direct.values("customuser_id"))
    return CustomUser.objects.filter(pk__in=ids).order_by("username")


def payments_visible_to(user: CustomUser) -> QuerySet[Payment]:
    """The API's payments: everyone's for staff who may view payments, else the caller's own."""
    payments = Payment.objects.select_related("order").order_by("-created_at", "-id")
    return payments if user.has_perm("payments.view_payment") else payments.filter(user=user)


def refunds_visible_to(user: CustomUser) -> QuerySet[Refund]:
    """The API's refunds: everyone's for staff who may view refunds, else the caller's own."""
    refunds = Refund.objects.select_related("payment").order_by("-created_at", "-id")
    return refunds if user.has_perm("payments.view_refund") else refunds.filter(payment__user=user)


# --- Disputes -----------------------------------------------------------------------------------


def dispute_list() -> QuerySet[Dispute]:
    """Disputes, the soonest evidence deadline first (undated ones last), with their payment."""
    return Dispute.objects.select_related("payment", "payment__user").order_by(
        F("evidence_due_by").asc(nulls_last=True), "id"
    )


def dispute_detail(*, dispute_id: int) -> Dispute:
    return Dispute.objects.select_related("payment", "payment__user", "payment__order").get(
        pk=dispute_id
    )


def dispute_webhook_events(*, dispute: Dispute) -> QuerySet[StripeWebhookEvent]:
    """The dispute's timeline: the charge.dispute.* events about it, oldest first."""
    return (
        StripeWebhookEvent.objects.filter(stripe_object_id=dispute.stripe_dispute_id)
        .defer("data")
        .order_by("stripe_created_at", "id")
    )


def payment_disputes(*, payment: Payment) -> QuerySet[Dispute]:
    return payment.disputes.order_by("-stripe_created_at", "-id")


def disputes_due_soon(*, days: int = 7, now: dt.datetime | None = None) -> int:
    """Disputes still waiting for our answer whose evidence is due within `days` (or overdue)."""
    until = (now or timezone.now()) + dt.timedelta(days=days)
    return Dispute.objects.filter(
        status__in=Dispute.NEEDS_RESPONSE_STATUSES, evidence_due_by__lte=until
    ).count()


def dispute_answers(*, dispute: Dispute) -> QuerySet[AuditEntry]:
    """Who answered the dispute, and how (the audit trail's entries about it), oldest first."""
    return AuditEntry.objects.filter(
        object_type="dispute", object_id=dispute.stripe_dispute_id
    ).order_by("at", "id")


def currencies_in_use() -> list[str]:
    """The currencies payments are in, for the list's currency filter (a few, not 150). On
    PostgreSQL a loose index scan of the (currency, created_at) index: one probe per currency,
    however many payments; cached for five minutes."""

    def compute() -> list[str]:
        if connection.vendor == "postgresql":
            table = Payment._meta.db_table
            with connection.cursor() as cursor:
                cursor.execute(
                    f"""
                    WITH RECURSIVE c(currency) AS (
                        (SELECT currency FROM {table} ORDER BY currency LIMIT 1)
                        UNION ALL
                        SELECT (SELECT p.currency FROM {table} p WHERE p.currency > c.currency
                                ORDER BY p.currency LIMIT 1)
                        FROM c WHERE c.currency IS NOT NULL
                    )
                    SELECT currency FROM c WHERE currency IS NOT NULL
                    """  # noqa: S608 (our own table name)
                )
                return [row[0] for row in cursor.fetchall()]
        return list(
            Payment.objects.order_by("currency").values_list("currency", flat=True).distinct()
        )

    return list(cache.get_or_set("payments:currencies_in_use", compute, 300) or compute())
