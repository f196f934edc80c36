"""Stripe's form encoding: bracketed nesting for dicts and lists, both ways."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stripe_sandbox.forms import MalformedParams, decode, encode


def test_it_decodes_nested_dicts_and_indexed_lists():
    params = decode(
        "amount=1234&metadata[order_id]=1&payment_method_types[0]=card"
        "&payment_method_types[1]=sepa_debit&created[gte]=17"
    )

    assert params == {
        "amount": "1234",
        "metadata": {"order_id": "1"},
        "payment_method_types": ["card", "sepa_debit"],
        "created": {"gte": "17"},
    }


def test_empty_brackets_append():
    assert decode("expand[]=latest_charge&expand[]=customer") == {
        "expand": ["latest_charge", "customer"]
    }


def test_lists_of_dicts_and_indexes_out_of_order():
    assert decode("items[1][price]=b&items[0][price]=a") == {
        "items": [{"price": "a"}, {"price": "b"}]
    }


def test_an_empty_value_is_kept_because_it_unsets_metadata():
    assert decode("metadata=") == {"metadata": ""}


@pytest.mark.parametrize("query", ["a[b=1", "a]=1", "a=1&a[b]=2"])
def test_malformed_names_are_refused(query):
    with pytest.raises(MalformedParams):
        decode(query)


keys = st.text(alphabet="abcdefghij_", min_size=1, max_size=6)
values = st.text(min_size=1, max_size=8)
tree = st.recursive(
    values,
    lambda inner: (
        st.dictionaries(keys, inner, min_size=1, max_size=3)
        | st.lists(inner, min_size=1, max_size=3)
    ),
    max_leaves=8,
)


@settings(deadline=None)  # the first example pays for imports
@given(st.dictionaries(keys, tree, max_size=4))
def test_encode_then_decode_round_trips(params):
    assert decode(encode(params)) == params
