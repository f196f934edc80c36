"""Django's database sessions, each request's session read by SQL compiled once per connection
(config.prepared): the same row, the same expiry check, the same behaviour otherwise."""

from __future__ import annotations

import datetime as dt

from django.contrib.sessions.backends import db
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from config.prepared import one_row

_PLACEHOLDER_EXPIRY = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


class SessionStore(db.SessionStore):
    def _live_session(self) -> QuerySet[AbstractBaseSession]:
        # Chained filters keep the SQL's parameters in this order: the key, then the time.
        live = self.model.objects.filter(session_key="")
        return live.filter(expire_date__gt=_PLACEHOLDER_EXPIRY)

    def _get_session_from_db(self) -> AbstractBaseSession | None:
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        key = f"live session {self.model._meta.label}"
        session = one_row(key, self._live_session, [self.session_key, now])
        if session is None:
            self._session_key = None
        return session
