"""Run the stand-in: `python -m stripe_sandbox --port 12111 --state-file var/stripe_sandbox.json
--webhook http://127.0.0.1:8000/api/payments/webhook/stripe/=whsec_...`."""

from __future__ import annotations

import argparse
import logging
import sys

from .server import SandboxServer


def parse_webhook(value: str) -> tuple[str, str]:
    url, sep, secret = value.rpartition("=")
    if not sep or not url or not secret.startswith("whsec_"):
        raise argparse.ArgumentTypeError(f"expected URL=whsec_..., got {value!r}")
    return url, secret


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m stripe_sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--state-file", default=None, help="JSON file; state survives restarts")
    parser.add_argument("--secret-key", default="sk_test_sandbox")
    parser.add_argument("--publishable-key", default="pk_test_sandbox")
    parser.add_argument(
        "--webhook",
        action="append",
        type=parse_webhook,
        default=[],
        metavar="URL=WHSEC",
        help="webhook endpoint and its signing secret (repeatable)",
    )
    parser.add_argument("--webhook-retry-base", type=float, default=5.0, metavar="SECONDS")
    parser.add_argument("--webhook-max-attempts", type=int, default=8)
    parser.add_argument("--webhook-timeout", type=float, default=10.0, metavar="SECONDS")
    parser.add_argument("--refund-settle-delay", type=float, default=5.0, metavar="SECONDS")
    parser.add_argument(
        "--account-country",
        default="NL",
        help="the account's country: which payment methods work (bank transfers in its currency)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    server = SandboxServer(
        args.host,
        args.port,
        state_file=args.state_file,
        secret_key=args.secret_key,
        publishable_key=args.publishable_key,
        webhooks=args.webhook,
        webhook_retry_base=args.webhook_retry_base,
        webhook_max_attempts=args.webhook_max_attempts,
        webhook_timeout=args.webhook_timeout,
        refund_settle_delay=args.refund_settle_delay,
        account_country=args.account_country,
        verbose=args.verbose,
    )
    print(
        f"stripe_sandbox listening on {server.base_url} (Stripe.js at {server.base_url}/v3/)",
        file=sys.stderr,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()


if __name__ == "__main__":
    main()
