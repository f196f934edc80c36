"""stripe_sandbox: an offline stand-in for the slice of Stripe's API this project uses.

A separate program (never imported by production code): `python -m stripe_sandbox`. The app reaches
it only through `STRIPE_API_BASE`, exactly as it reaches Stripe. See README.md in this package.
"""

from .server import SandboxServer

__all__ = ["SandboxServer"]
