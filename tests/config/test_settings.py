"""Configuration comes from the environment, and unsafe configurations refuse to start."""

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "ENV_FILE": "/dev/null",  # only what is given here, never a developer's .env
    "DEBUG": "false",
    "SECRET_KEY": "k3Jd9-production-grade-secret-key-of-more-than-fifty-chars-xQ2",
    "ALLOWED_HOSTS": "payments.example.com",
    "STRIPE_PUBLIC_KEY": "pk_live_example",
    "STRIPE_SECRET_KEY": "sk_live_example",
    "STRIPE_WEBHOOK_SECRET": "whsec_example",
    "STRIPE_IDEMPOTENCY_PREFIX": "shop-prod",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # Only what the test gives: the parent's environment holds what its own .env set.
    clean = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**clean, "DATABASE_URL": "sqlite:////tmp/settings-test.sqlite3", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def settings_value(name: str, **env: str) -> str:
    result = manage(
        "shell", "-c", f"from django.conf import settings; print(repr(settings.{name}))", **env
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_a_production_configuration_passes_the_deploy_checks():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_needs_its_own_idempotency_prefix():
    result = manage("check", **{**PRODUCTION, "STRIPE_IDEMPOTENCY_PREFIX": ""})
    assert result.returncode != 0
    assert "payments.E001" in result.stderr
    assert "STRIPE_IDEMPOTENCY_PREFIX is not set" in result.stderr


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    result = manage("check", **{**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_mode_runs_without_a_secret_key():
    result = manage("check", ENV_FILE="/dev/null", DEBUG="true")
    assert result.returncode == 0, result.stderr


def test_debug_is_off_unless_asked_for():
    assert settings_value("DEBUG", **{**PRODUCTION, "DEBUG": ""}) == "False"


def test_it_reads_stripe_settings_from_the_environment():
    env = {
        **PRODUCTION,
        "STRIPE_WEBHOOK_SECRET": "whsec_old,whsec_new",
        "STRIPE_API_BASE": "http://127.0.0.1:12111",
        "PAYMENTS_DEFAULT_CURRENCY": "jpy",
    }
    assert settings_value("STRIPE_WEBHOOK_SECRETS", **env) == "['whsec_old', 'whsec_new']"
    assert settings_value("STRIPE_API_BASE", **env) == "'http://127.0.0.1:12111'"
    assert settings_value("PAYMENTS_DEFAULT_CURRENCY", **env) == "'JPY'"
    assert settings_value("STRIPE_SECRET_KEY", **env) == "'sk_live_example'"


def test_it_reads_a_dotenv_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DEBUG=true\nPAYMENTS_DEFAULT_CURRENCY=USD\n")
    assert settings_value("PAYMENTS_DEFAULT_CURRENCY", ENV_FILE=str(env_file)) == "'USD'"
    # The real environment wins over the file.
    value = settings_value(
        "PAYMENTS_DEFAULT_CURRENCY", ENV_FILE=str(env_file), PAYMENTS_DEFAULT_CURRENCY="GBP"
    )
    assert value == "'GBP'"


def test_database_url_selects_the_database():
    env = {**PRODUCTION, "DATABASE_URL": "postgres://u:p@db.internal:5432/shop"}
    engine = settings_value("DATABASES['default']['ENGINE']", **env)
    assert engine == "'django.db.backends.postgresql'"
    name = settings_value("DATABASES['default']['NAME']", **env)
    assert name == "'shop'"


def test_an_empty_database_url_means_the_default_sqlite_file():
    engine = settings_value("DATABASES['default']['ENGINE']", **{**PRODUCTION, "DATABASE_URL": ""})
    assert engine == "'django.db.backends.sqlite3'"


def test_the_refund_approval_threshold_is_read_exactly_per_currency():
    value = settings_value(
        "PAYMENTS_REFUND_APPROVAL_THRESHOLD",
        **{**PRODUCTION, "PAYMENTS_REFUND_APPROVAL_THRESHOLD": "EUR:500,USD:500,JPY:75000"},
    )
    assert value == (
        "{'EUR': Decimal('500.00'), 'USD': Decimal('500.00'), 'JPY': Decimal('75000')}"
    )
    assert settings_value("PAYMENTS_REFUND_APPROVAL_THRESHOLD", **PRODUCTION) == "{}"


def test_a_malformed_refund_approval_threshold_refuses_to_start():
    result = manage(
        "check", **{**PRODUCTION, "PAYMENTS_REFUND_APPROVAL_THRESHOLD": "EUR:5,JPY:0.5"}
    )
    assert result.returncode != 0
    assert "PAYMENTS_REFUND_APPROVAL_THRESHOLD is malformed" in result.stderr
    assert "JPY amounts can have at most whole units" in result.stderr
