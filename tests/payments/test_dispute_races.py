"""One dispute answer confirmed several times at once is one answer (PostgreSQL: real locks)."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEntry
from payments import services
from payments.models import Dispute
from tests import factories
from tests.payments.test_concurrency import run_together
from tests.payments.webhook_helpers import SECRET, deliver

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _disputed(sandbox, settings) -> Dispute:
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]
    payment = factories.paid_payment(sandbox, card="pm_card_createDispute")
    status, body, _ = sandbox.api("GET", "/v1/events", {"limit": 100})
    assert status == 200
    hooks = Client()
    for evt in reversed(body["data"]):
        assert deliver(hooks, evt).status_code == 200
    return Dispute.objects.get(payment=payment)


def test_the_same_confirmation_four_times_at_once_is_one_answer(stripe_sandbox, settings):
    dispute = _disputed(stripe_sandbox, settings)
    finance = factories.user("fiona", group="Finance")
    reviewed = services.Reviewed(
        status=dispute.status, evidence_digest=services.evidence_digest(dispute.evidence)
    )
    results = run_together(
        4,
        lambda i: services.dispute_evidence_update(
            dispute_id=dispute.pk,
            evidence={"uncategorized_text": "Proof"},
            submit=True,
            actor=finance,
            request_token="one-confirmation",
            reviewed=reviewed,
        ),
    )
    made = [r for r in results if isinstance(r, Dispute)]
    waiting = [r for r in results if isinstance(r, services.DisputeAnswerPending)]
    assert made and len(made) + len(waiting) == 4, results
    assert AuditEntry.objects.filter(action="dispute.evidence_submitted").count() == 1
    sends = stripe_sandbox.requests_log(
        method="POST", path=f"/v1/disputes/{dispute.stripe_dispute_id}"
    )
    assert len({s["idempotency_key"] for s in sends}) == 1
    assert (
        stripe_sandbox.dispute(dispute.stripe_dispute_id)["evidence_details"]["submission_count"]
        == 1
    )


def test_a_submit_and_an_accept_at_once_leave_one_answer_and_a_clear_conflict(
    stripe_sandbox, settings
):
    dispute = _disputed(stripe_sandbox, settings)
    people = [factories.user("fiona", group="Finance"), factories.user("gina", group="Finance")]
    reviewed = services.Reviewed(
        status=dispute.status, evidence_digest=services.evidence_digest(dispute.evidence)
    )

    def answer(i: int):
        if i == 0:
            return services.dispute_evidence_update(
                dispute_id=dispute.pk,
                evidence={"uncategorized_text": "Proof"},
                submit=True,
                actor=people[0],
                request_token="submit-it",
                reviewed=reviewed,
            )
        return services.dispute_accept(
            dispute_id=dispute.pk, actor=people[1], request_token="accept-it", reviewed=reviewed
        )

    results = run_together(2, answer)
    made = [r for r in results if isinstance(r, Dispute)]
    refused = [r for r in results if isinstance(r, services.DisputeError)]
    assert len(made) == 1 and len(refused) == 1, results
    assert AuditEntry.objects.filter(object_type="dispute").count() == 1
