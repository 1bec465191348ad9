"""Replies as plain data (replies.py): the one Vary field."""

from __future__ import annotations

from medkg_server.replies import vary_value, with_vary


def test_vary_value_names_each_field_once_in_order() -> None:
    assert vary_value(["Accept", "Origin, accept", "Accept-Encoding"]) == (
        "Accept, Origin, Accept-Encoding"
    )
    assert vary_value([" Accept ,, ", ""]) == "Accept"
    assert vary_value(["Accept", "*"]) == "*"  # anything may matter: nothing else to add
    assert vary_value([]) == ""


def test_with_vary_merges_every_vary_field_into_the_first() -> None:
    headers = [("Content-Type", "text/html"), ("Vary", "Accept"), ("ETag", '"a"'),
               ("vary", "Origin")]
    assert with_vary(headers, "Accept-Encoding") == [
        ("Content-Type", "text/html"), ("Vary", "Accept, Origin, Accept-Encoding"),
        ("ETag", '"a"'),
    ]
    assert with_vary(headers) == [
        ("Content-Type", "text/html"), ("Vary", "Accept, Origin"), ("ETag", '"a"'),
    ]


def test_with_vary_adds_a_field_or_leaves_the_headers_alone() -> None:
    plain = [("Content-Type", "text/plain")]
    assert with_vary(plain, "Accept-Encoding") == [*plain, ("Vary", "Accept-Encoding")]
    assert with_vary(plain) is plain  # nothing to name
    done = [("Vary", "Accept, Accept-Encoding")]
    assert with_vary(done, "accept-encoding") is done  # named already, in one field
    assert with_vary([("Vary", "*")], "Accept-Encoding") == [("Vary", "*")]
