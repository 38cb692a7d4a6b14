"""bench.report writes a scenario's settings as JSON, classes among them by their import path."""

from __future__ import annotations

import json

import pytest

from bench.report import class_path
from bench.serve import UVICORN_SETTINGS


def test_the_uvicorn_settings_of_a_scenario_are_written_with_their_protocol_class() -> None:
    written = json.loads(json.dumps({"uvicorn": UVICORN_SETTINGS}, default=class_path))
    assert written["uvicorn"]["ws"] == "mychat.ws_protocol.LeanWebSocketProtocol"


def test_anything_else_unknown_still_fails() -> None:
    with pytest.raises(TypeError):
        json.dumps({"x": object()}, default=class_path)
