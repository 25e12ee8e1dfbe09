"""The intent-name rule `ccctl` and the ai service share, and the uploaded training set's format."""

from __future__ import annotations

import zlib

import pytest

from ccmesh.intent_labels import (
    IntentLabelError,
    check_example,
    normalise_intent_name,
    pack_training_set,
    unpack_training_set,
)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("refund", "refund"),
        ("  order status ", "order_status"),
        ("order \t status", "order_status"),
        ("pedido-está", "pedido-está"),
        ("注文", "注文"),
        ("cafe\u0301", "café"),  # NFC: the same name however it was typed
    ],
)
def test_names_are_normalised(raw: str, stored: str) -> None:
    assert normalise_intent_name(raw) == stored


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("where is my order?", "has '?'"),
        ("a.b/c", "has '.' '/'"),
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 101, "maximum is 100"),
        ("out_of_scope", "reserved"),
    ],
)
def test_bad_names_are_refused_saying_why(raw: str, problem: str) -> None:
    with pytest.raises(IntentLabelError, match=problem.replace("?", "\\?").replace(".", "\\.")):
        normalise_intent_name(raw)


def test_examples_blank_ones_are_skipped_and_long_ones_refused() -> None:
    assert check_example("where is my order") == "where is my order"
    assert check_example("  \n") is None
    with pytest.raises(IntentLabelError, match="1001 characters"):
        check_example("y" * 1001)


def test_a_training_set_survives_the_upload_format_and_a_wrong_object_is_refused() -> None:
    examples = {"refund": ["money back", "reembolso"], "注文": ["注文はどこ"]}
    assert unpack_training_set(pack_training_set(examples)) == examples
    with pytest.raises(IntentLabelError, match="not compressed JSON"):
        unpack_training_set(b"plain text")
    with pytest.raises(IntentLabelError, match="lists of strings"):
        unpack_training_set(zlib.compress(b'{"refund": "money back"}'))
