"""Logging: JSON lines off a terminal, stdlib records routed through structlog, secrets redacted."""

from __future__ import annotations

import io
import json
import logging

import pytest

from drd import logs, redaction


@pytest.fixture
def stream():
    buffer = io.StringIO()
    yield buffer
    logging.getLogger().handlers.clear()


def _lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_events_are_json_lines_when_not_a_terminal(stream):
    """Off a terminal every event is one JSON object with level, timestamp and fields."""
    logs.configure(fmt="auto", stream=stream)
    logs.get_logger("drd.test").info("backup_finished", policy="shop", phase="Completed")
    (line,) = _lines(stream)
    assert line["event"] == "backup_finished"
    assert line["policy"] == "shop"
    assert line["level"] == "info"
    assert str(line["timestamp"]).endswith("Z")


def test_stdlib_loggers_come_out_as_the_same_json(stream):
    """Records of libraries using the stdlib logging module are rendered by the same processors."""
    logs.configure(fmt="json", stream=stream)
    logging.getLogger("some.library").warning("retrying %s", "request")
    (line,) = _lines(stream)
    assert line["event"] == "retrying request"
    assert line["logger"] == "some.library"


def test_secret_fields_and_registered_values_are_redacted(stream):
    """A token field and a registered secret inside a message never reach the log line."""
    redaction.register_secret("hunter2-secret")
    try:
        logs.configure(fmt="json", stream=stream)
        logs.get_logger().info("vault_read", token="s.abcdef", note="value hunter2-secret seen")
    finally:
        redaction.forget_secrets()
    text = stream.getvalue()
    assert "s.abcdef" not in text
    assert "hunter2-secret" not in text
    (line,) = _lines(stream)
    assert line["token"] == "***"


def test_levels_below_the_threshold_are_dropped(stream):
    """Events below the configured level are not written."""
    logs.configure(level="WARNING", fmt="json", stream=stream)
    logs.get_logger().info("chatty")
    logs.get_logger().warning("important")
    assert [line["event"] for line in _lines(stream)] == ["important"]
