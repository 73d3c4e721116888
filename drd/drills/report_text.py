"""The drill report as a terminal summary (``drd drill show RUN``): the verdict first, then the proof, compactly.

Plain text without colour: status words (PASS, FAIL…) carry the meaning, so
it reads the same piped into a file or a ticket. Values from the evidence
lose their control characters and line breaks, so that a hostile string
cannot move the cursor or forge lines of the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drd.drills import report_format as fmt
from drd.drills.report_markup import clean

DETAIL_WIDTH = 90
"""Longest detail, message or note printed on one line."""
_LABEL = 12


def summary(ev: Mapping[str, Any]) -> str:
    """The whole summary, ending with a newline."""
    blocks = [_overview(ev), _failure(ev), _regressions(ev), _levels(ev), _checks(ev)]
    return "\n\n".join(block for block in blocks if block) + "\n"


def _line(value: Any, width: int = DETAIL_WIDTH) -> str:
    return fmt.truncate(" ".join(clean(value).split()), width)


def _overview(ev: Mapping[str, Any]) -> str:
    verdict = fmt.verdict(ev)
    phase = fmt.phase(ev.get("phase"))
    head = f"Drill {_line(ev.get('run') or 'unknown')}: {verdict.word.upper()}" + (f" ({phase})" if phase else "")
    stopped = fmt.stopped_at(ev)
    started = fmt.timestamp(ev.get("startedAt")) or "unknown"
    took = fmt.duration(fmt.elapsed(ev.get("startedAt"), ev.get("finishedAt")))
    rows = [
        ("policy", f"{ev.get('policy') or 'unknown'} (application {ev.get('application') or 'unknown'})"),
        ("route", f"{fmt.cluster(ev.get('source')) or 'unknown'} → {fmt.cluster(ev.get('target')) or 'unknown'}"),
        ("started", ", ".join(filter(None, (started, took and f"took {took}")))),
        ("trigger", fmt.trigger(ev) or "unknown"),
        ("RTO", _objective(ev, "rto")),
        ("RPO", _objective(ev, "rpo")),
        ("confidence", f"{score:.0f}/100" if (score := fmt.number(ev.get("score"))) is not None else "not scored"),
        ("backup", _backup(ev) or stopped),
        ("restore", _restore(ev) or stopped),
        ("objects", _objects(ev) or stopped),
        ("teardown", _teardown(ev) or "not recorded"),
    ]
    return "\n".join([_line(head), *(f"  {label:<{_LABEL}} {_line(value)}" for label, value in rows)])


def _objective(ev: Mapping[str, Any], key: str) -> str:
    view = fmt.objective(ev, key)
    allowed = fmt.duration(view.allowed)
    if view.achieved is None:
        return fmt.stopped_at(ev) + (f"; objective {allowed}" if allowed else "")
    return f"{fmt.duration(view.achieved)}" + (f" of {allowed} objective" if allowed else "") + f": {view.word.lower()}"


def _backup(ev: Mapping[str, Any]) -> str | None:
    backup = fmt.mapping(ev.get("backup"))
    if not backup:
        return None
    facts = [fmt.phase(backup.get("phase")), (age := fmt.duration(backup.get("ageSeconds"))) and f"{age} old"]
    if backup.get("partiallyFailed") is True:
        facts.append("partially failed")
    return f"{backup.get('name') or 'unnamed'} ({', '.join(filter(None, facts)) or 'no details'})"


def _restore(ev: Mapping[str, Any]) -> str | None:
    restore = fmt.mapping(ev.get("restore"))
    if not restore:
        return None
    items = fmt.items(restore)
    warnings, errors = fmt.number(restore.get("warnings")), fmt.number(restore.get("errors"))
    facts = [
        fmt.phase(restore.get("phase")),
        f"{items} items" if items else None,
        fmt.plural(int(warnings), "warning") if warnings is not None else None,
        fmt.plural(int(errors), "error") if errors is not None else None,
    ]
    return f"{restore.get('name') or 'unnamed'} ({', '.join(filter(None, facts)) or 'no details'})"


def _objects(ev: Mapping[str, Any]) -> str | None:
    objects = fmt.mapping(ev.get("objects"))
    expected, found = fmt.number(objects.get("expected")), fmt.number(objects.get("found"))
    if expected is None or found is None:
        return None
    absent = fmt.strings(objects.get("missing"))
    more = f"; missing {', '.join(absent[:3])}" + (f" and {len(absent) - 3} more" if len(absent) > 3 else "")
    return f"{found:.0f} of {expected:.0f} found" + (more if absent else "")


def _teardown(ev: Mapping[str, Any]) -> str | None:
    teardown = fmt.mapping(ev.get("teardown"))
    if not teardown:
        return None
    parts = [str(teardown.get("status") or "unknown")]
    if names := fmt.strings(teardown.get("namespaces")):
        parts.append(", ".join(names))
    if until := fmt.timestamp(teardown.get("keptUntil")):
        parts.append(f"kept until {until}")
    if message := fmt.text(teardown.get("message")):
        parts.append(message)
    return "; ".join(parts)


def _failure(ev: Mapping[str, Any]) -> str:
    failure = fmt.mapping(ev.get("failure"))
    if not failure:
        return ""
    step = fmt.text(failure.get("step")) or "unknown step"
    return _line(f"Failed at {step}: {failure.get('message') or 'no message recorded'}", 2 * DETAIL_WIDTH)


def _regressions(ev: Mapping[str, Any]) -> str:
    found = fmt.records(ev.get("regressions"))
    if not found:
        return ""
    lines = [f"  {_line(r.get('kind') or 'other', 8):<8} {_line(r.get('detail') or '')}" for r in found]
    return "\n".join([f"Regressions since the previous drill ({len(found)})", *lines])


def _levels(ev: Mapping[str, Any]) -> str:
    levels = fmt.records(ev.get("levels"))
    if not levels:
        return ""
    lines = [
        f"  {_word(fmt.status(level.get('status')))} {_line(level.get('level') or 'unnamed', 24):<24} "
        f"{_line(level.get('detail') or '', 64)}".rstrip()
        for level in levels
    ]
    return "\n".join(["Levels", *lines])


def _checks(ev: Mapping[str, Any]) -> str:
    if not fmt.checks_reached(ev):
        return ""
    checks = fmt.records(ev.get("checks"))
    passed = sum(c.get("passed") is True for c in checks)
    lines = [
        f"  {_word(fmt.status(fmt.flag(c.get('passed'))))} {_line(c.get('name') or 'unnamed', 28):<28} "
        f"{_line(c.get('type') or '', 14):<14} {fmt.milliseconds(c.get('durationMs')) or '':>7}  "
        f"{_line(c.get('detail') or '', 60)}".rstrip()
        for c in checks
    ]
    return "\n".join([f"Checks: {passed} of {len(checks)} passed", *lines])


def _word(status: fmt.Status) -> str:
    return {"pass": "PASS", "fail": "FAIL", "warn": "WARN", "skip": "SKIP"}.get(status.key, "----")
