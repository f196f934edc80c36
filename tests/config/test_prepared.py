"""Each request's session and user are read by SQL compiled once per connection
(config.prepared): the same rows as the ORM's, the same sessions and users let in."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import SESSION_KEY, get_user
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.models import Session
from django.db.models import F
from django.test import RequestFactory
from django.utils import timezone

from config.prepared import one_row
from config.sessions import SessionStore
from payments.models import Payment
from shop.models import CustomUser
from shop.permissions import OneQueryModelBackend
from tests import factories

pytestmark = pytest.mark.django_db


def _by_id():
    return CustomUser.objects.filter(pk=0)


def test_a_row_is_the_orms_own_with_its_values_converted():
    user = factories.user(group="Finance")
    CustomUser.objects.filter(pk=user.pk).update(last_login=timezone.now())
    ours = one_row("test user", _by_id, [user.pk])
    theirs = CustomUser.objects.get(pk=user.pk)
    assert ours is not None and ours.pk == user.pk
    fields = [f.attname for f in CustomUser._meta.concrete_fields]
    assert {f: getattr(ours, f) for f in fields} == {f: getattr(theirs, f) for f in fields}
    assert timezone.is_aware(ours.last_login) and timezone.is_aware(ours.date_joined)
    assert not ours._state.adding and ours._state.db == "default"
    assert one_row("test user", _by_id, [user.pk + 1000]) is None


def test_built_and_compiled_once_per_connection(django_assert_num_queries):
    user = factories.user()
    built = []

    def build():
        built.append(1)
        return CustomUser.objects.filter(pk=0)

    with django_assert_num_queries(3):
        for _ in range(3):
            assert one_row("counted", build, [user.pk]).pk == user.pk
    assert built == [1]


def test_annotations_are_set_on_the_instance_as_the_orm_sets_them():
    from django.db.models import Count

    user = factories.user(group="Finance")

    def build():
        return CustomUser.objects.filter(pk=0).annotate(
            groups_n=Count("groups"), name_again=F("username")
        )

    ours = one_row("annotated user", build, [user.pk])
    theirs = CustomUser.objects.annotate(groups_n=Count("groups"), name_again=F("username"))
    expected = theirs.get(pk=user.pk)
    assert (ours.groups_n, ours.name_again) == (expected.groups_n, expected.name_again)
    assert (ours.groups_n, ours.name_again) == (1, user.username)


def test_refuses_what_it_cannot_read_right():
    with pytest.raises(ValueError, match="whole rows"):
        one_row("part", lambda: CustomUser.objects.only("pk").filter(pk=0), [1])
    with pytest.raises(ValueError, match="whole rows"):
        one_row("joined", lambda: Payment.objects.select_related("user").filter(pk=0), [1])
    with pytest.raises(ValueError, match="whole rows"):
        one_row(
            "joined, annotated",
            lambda: Payment.objects.select_related("user").annotate(n=F("amount")).filter(pk=0),
            [1],
        )
    with pytest.raises(ValueError, match="1 parameters, 2 given"):
        one_row("test user", _by_id, [1, 2])


def _session(*, expires_in: dt.timedelta) -> SessionStore:
    store = SessionStore()
    store["answer"] = 42
    store.save()
    Session.objects.filter(session_key=store.session_key).update(
        expire_date=timezone.now() + expires_in
    )
    return store


def test_a_live_session_is_read_and_an_expired_one_is_not():
    live = _session(expires_in=dt.timedelta(hours=1))
    assert SessionStore(live.session_key)["answer"] == 42

    expired = _session(expires_in=dt.timedelta(seconds=-1))
    again = SessionStore(expired.session_key)
    assert "answer" not in again
    assert again.session_key is None  # as Django's: a new session, never the expired one's
    assert SessionStore("x" * 32).load() == {}


def test_requests_use_these_sessions(client):
    user = factories.user(group="Finance")
    client.force_login(user)
    response = client.get("/backoffice/")
    assert type(response.wsgi_request.session) is SessionStore
    assert response.wsgi_request.user.pk == user.pk


def test_the_session_is_one_query(django_assert_num_queries):
    live = _session(expires_in=dt.timedelta(hours=1))
    with django_assert_num_queries(1):
        assert SessionStore(live.session_key)["answer"] == 42


@pytest.mark.parametrize("is_active", [True, False])
def test_the_request_user_is_model_backends(is_active):
    user = factories.user(group="Finance", is_active=is_active)
    ours, theirs = OneQueryModelBackend().get_user(user.pk), ModelBackend().get_user(user.pk)
    assert (ours and ours.pk) == (theirs and theirs.pk) == (user.pk if is_active else None)
    assert OneQueryModelBackend().get_user(user.pk + 1000) is None
    assert OneQueryModelBackend().get_user(str(user.pk)) == theirs


def test_a_logged_in_request_gets_its_user_and_a_stale_session_none():
    user = factories.user(group="Finance")
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store["_auth_user_backend"] = "shop.permissions.OneQueryModelBackend"
    store["_auth_user_hash"] = user.get_session_auth_hash()
    store.save()
    request = RequestFactory().get("/")
    request.session = SessionStore(store.session_key)
    assert get_user(request).pk == user.pk

    user.set_password("a-new-password-1234")  # other sessions end with a password change
    user.save()
    request.session = SessionStore(store.session_key)
    assert get_user(request).is_anonymous
