"""Stripe's error answers: the body `{"error": {type, code, decline_code, message, ...}}`."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

DOCS = "https://docs.stripe.com/error-codes"


class StripeError(Exception):
    """An error answer with Stripe's body: {"error": {type, code, decline_code, message, ...}}."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: Obj | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}
        self.error: Obj = {"type": type_, "message": message}
        if code:
            self.error["code"] = code
            self.error["doc_url"] = f"{DOCS}#{code.replace('_', '-')}"
        if decline_code:
            self.error["decline_code"] = decline_code
        if param:
            self.error["param"] = param
        self.error.update(extra or {})

    def body(self) -> Obj:
        return {"error": self.error}


def invalid(
    message: str, *, param: str | None = None, code: str | None = None, status: int = 400
) -> StripeError:
    return StripeError(status, "invalid_request_error", message, code=code, param=param)


def card_error(
    code: str, message: str, *, param: str | None = None, decline_code: str | None = None
) -> StripeError:
    return StripeError(
        402, "card_error", message, code=code, param=param, decline_code=decline_code
    )
