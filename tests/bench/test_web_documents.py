"""The bench sends the web app's documents as Apollo Client does: read by Node, valid here."""

from __future__ import annotations

from graphql import build_schema as build_sdl_schema
from graphql import parse, validate

from bench.web_operations import document, sent, sent_documents
from gateway.schema import build_schema


def test_every_document_is_read_and_valid_against_the_gateway_schema() -> None:
    schema = build_sdl_schema(build_schema().as_str())
    documents = sent_documents()
    # Those the benchmarks use, MARK_READ and SEND_MESSAGE built by a JS function included.
    assert {"CHAT_EVENTS", "CHATS", "MARK_READ", "SEND_MESSAGE"} <= documents.keys()
    for name, text in documents.items():
        if text.startswith("fragment"):
            continue  # a fragment the operations spread, never sent alone
        errors = validate(schema, parse(text))
        assert not errors, (name, errors)


def test_the_wire_form_is_the_source_with_typenames() -> None:
    wire = sent("CHAT_EVENTS")
    assert "chatEvents(after: $after, signals: true, presenceBatches: true)" in wire
    assert wire.count("__typename") > document("CHAT_EVENTS").count("__typename")
