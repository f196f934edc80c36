"""Stripe's test cards and test PaymentMethod tokens, and what each does.

Source: https://docs.stripe.com/testing (cards by brand, declined payments, 3-D Secure,
refunds, disputes). A number not listed here is refused the way Stripe's test mode refuses a
real card.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decline:
    code: str
    decline_code: str
    message: str
    param: str | None = None
    outcome_reason: str | None = None


@dataclass(frozen=True)
class DisputeSpec:
    """The dispute a test card's successful charge gets right away (Stripe's test mode)."""

    reason: str
    case_type: str  # "chargeback" or "inquiry"
    network_reason_code: str


@dataclass(frozen=True)
class TestCard:
    number: str
    brand: str
    funding: str = "credit"
    country: str = "US"
    # "succeed", "decline", "authenticate", "refund_fail", "refund_pending"
    behaviour: str = "succeed"
    decline: Decline | None = None
    # The charge succeeds, then is disputed (cards 0259, 2685, 1976).
    dispute: DisputeSpec | None = None

    @property
    def last4(self) -> str:
        return self.number[-4:]


GENERIC_DECLINE = Decline("card_declined", "generic_decline", "Your card was declined.")
INSUFFICIENT_FUNDS = Decline(
    "card_declined", "insufficient_funds", "Your card has insufficient funds."
)

CARDS: dict[str, TestCard] = {
    card.number: card
    for card in [
        TestCard("4242424242424242", "visa"),
        TestCard("4000056655665556", "visa", funding="debit"),
        TestCard("5555555555554444", "mastercard"),
        TestCard("2223003122003222", "mastercard"),
        TestCard("378282246310005", "amex"),
        TestCard("4000000000000002", "visa", behaviour="decline", decline=GENERIC_DECLINE),
        TestCard("4000000000009995", "visa", behaviour="decline", decline=INSUFFICIENT_FUNDS),
        TestCard(
            "4000000000009987",
            "visa",
            behaviour="decline",
            decline=Decline("card_declined", "lost_card", "Your card was declined."),
        ),
        TestCard(
            "4000000000009979",
            "visa",
            behaviour="decline",
            decline=Decline("card_declined", "stolen_card", "Your card was declined."),
        ),
        TestCard(
            "4000000000000069",
            "visa",
            behaviour="decline",
            decline=Decline("expired_card", "expired_card", "Your card has expired.", "exp_month"),
        ),
        TestCard(
            "4000000000000127",
            "visa",
            behaviour="decline",
            decline=Decline(
                "incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect.", "cvc"
            ),
        ),
        TestCard(
            "4000000000000119",
            "visa",
            behaviour="decline",
            decline=Decline(
                "processing_error",
                "processing_error",
                "An error occurred while processing your card. Try again in a little bit.",
            ),
        ),
        # 3-D Secure: the payment waits in requires_action until the bank step is done.
        TestCard("4000002500003155", "visa", behaviour="authenticate"),
        TestCard("4000002760003184", "visa", behaviour="authenticate"),
        TestCard("4000000000003220", "visa", behaviour="authenticate"),
        # Refunds: 5126 refunds start succeeded and fail later; 7726 start pending, succeed later.
        TestCard("4000000000005126", "visa", behaviour="refund_fail"),
        TestCard("4000000000007726", "visa", behaviour="refund_pending"),
        # Disputes: the charge succeeds, then the cardholder disputes it (Visa's reason codes).
        TestCard(
            "4000000000000259", "visa", dispute=DisputeSpec("fraudulent", "chargeback", "10.4")
        ),
        TestCard(
            "4000000000002685",
            "visa",
            dispute=DisputeSpec("product_not_received", "chargeback", "13.1"),
        ),
        TestCard("4000000000001976", "visa", dispute=DisputeSpec("fraudulent", "inquiry", "10.4")),
    ]
}

# Test PaymentMethod tokens usable wherever a PaymentMethod id is accepted.
TOKENS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_amex": "378282246310005",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_authenticationRequired": "4000002500003155",
    "pm_card_threeDSecure2Required": "4000000000003220",
    "pm_card_refundFail": "4000000000005126",
    "pm_card_createDispute": "4000000000000259",
    "pm_card_createDisputeProductNotReceived": "4000000000002685",
    "pm_card_createDisputeInquiry": "4000000000001976",
}


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        digit = int(ch)
        if i % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0
