"""A list filter's choice of a person (who refunded, who acted): the few staff a selector names,
never the customers, read in one plain query a page."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.forms.models import ModelChoiceIterator


# A person filter's people (the staff who may refund, the staff in the audit trail) are a
# query with no inputs: built and compiled once per process, each page only runs its SQL.
# Building and compiling the union (payments.selectors.users_who_may_refund) took three times
# as long as running it.
@functools.cache
def _people(select: Callable[[], QuerySet]) -> QuerySet:
    return select()


@functools.cache
def _people_sql(select: Callable[[], QuerySet]) -> tuple[str, tuple[Any, ...]]:
    return _people(select).query.sql_with_params()


class _PeopleChoices(ModelChoiceIterator):
    """The choices from the people query's SQL, as plain rows: Django's iterator builds the
    query again and reads it through `QuerySet.iterator()`, on PostgreSQL a server-side cursor
    (DECLARE, FETCH, CLOSE, WITH HOLD outside a transaction) for a list of a few people."""

    field: PersonChoiceField

    def __iter__(self) -> Iterator[Any]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.field.people():
            yield self.choice(obj)

    def __len__(self) -> int:
        return len(self.field.people()) + (1 if self.field.empty_label is not None else 0)


class PersonChoiceField(forms.ModelChoiceField):
    iterator = _PeopleChoices

    def __init__(self, *args: Any, select: Callable[[], QuerySet], **kwargs: Any) -> None:
        self.select = select
        self._listed: list[Any] | None = None
        super().__init__(*args, **kwargs)

    def people(self) -> list[Any]:
        """The people offered, read once per form."""
        if self._listed is None:
            queryset = _people(self.select)
            self._listed = list(queryset.model._default_manager.raw(*_people_sql(self.select)))
        return self._listed

    def __deepcopy__(self, memo: dict[int, Any]) -> PersonChoiceField:
        copied = super().__deepcopy__(memo)
        copied._listed = None
        return copied


class PersonFilter(django_filters.ModelChoiceFilter):
    """A choice of the few people a list can be filtered by (staff, never the customers), from
    `select`, a selector taking no arguments; a person chosen is checked against the same query."""

    field_class = PersonChoiceField

    def __init__(self, *, select: Callable[[], QuerySet], **kwargs: Any) -> None:
        super().__init__(queryset=lambda request: _people(select).all(), select=select, **kwargs)
