#!/usr/bin/env bash
# The last steps of `make demo`: start the offline Stripe stand-in (when the settings point the
# app at one on this machine), seed the demo data (with payments really paid through the stand-in),
# and run the app; stopping the app (Ctrl-C) stops the stand-in too.
set -euo pipefail
cd "$(dirname "$0")/.."
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
PY=.venv/bin/python

# What the app will use, read through its own settings (.env and the environment).
mapfile -t conf < <($PY - <<'PY'
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from django.conf import settings
print(settings.STRIPE_API_BASE)
print(settings.STRIPE_SECRET_KEY)
print(settings.STRIPE_PUBLIC_KEY)
print((settings.STRIPE_WEBHOOK_SECRETS or [""])[0])
PY
)
api_base=${conf[0]}; secret_key=${conf[1]}; public_key=${conf[2]}; webhook_secret=${conf[3]}

if [[ $api_base =~ ^http://(127\.0\.0\.1|localhost):([0-9]+)/?$ ]]; then
  sandbox_port=${BASH_REMATCH[2]}
  if $PY -c "import urllib.request; urllib.request.urlopen('$api_base/_sandbox/health', timeout=1)" 2>/dev/null; then
    echo "Stripe stand-in already running at $api_base"
  else
    mkdir -p var
    $PY -m stripe_sandbox --host 127.0.0.1 --port "$sandbox_port" \
      --state-file var/stripe_sandbox.json \
      --secret-key "$secret_key" --publishable-key "$public_key" \
      --webhook "http://$HOST:$PORT/api/payments/webhook/stripe/=$webhook_secret" \
      >>var/stripe_sandbox.log 2>&1 &
    sandbox_pid=$!
    trap 'kill $sandbox_pid 2>/dev/null || true' EXIT INT TERM
    for _ in $(seq 1 50); do
      $PY -c "import urllib.request; urllib.request.urlopen('$api_base/_sandbox/health', timeout=1)" 2>/dev/null && break
      sleep 0.2
    done
    echo "Stripe stand-in started at $api_base (log: var/stripe_sandbox.log)"
  fi
  # Demo data, brought into the stand-in too (so every demo payment can be refreshed and
  # refunded), plus a dozen payments really paid through it.
  $PY manage.py seed_demo --stand-in --live 12
else
  echo "STRIPE_API_BASE is '${api_base:-Stripe itself}': not starting the offline stand-in."
  $PY manage.py seed_demo
fi

cat <<MSG

  Back-office:  http://$HOST:$PORT/backoffice/   finance / finance-demo-pass  (support / support-demo-pass)
  Checkout:     http://$HOST:$PORT/checkout/     alice / alice-demo-pass (pay with 4242 4242 4242 4242)
  Admin:        http://$HOST:$PORT/admin/        admin / admin-demo-pass
  API docs:     http://$HOST:$PORT/api/docs/

MSG
$PY manage.py runserver "$HOST:$PORT"
