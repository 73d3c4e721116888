"""The proof sections of the drill report (2–9): backup, restore, objects, checks, timeline, diagnostics,
teardown and history.

Each takes the (redacted) evidence and returns its markup; a part of the
evidence that is missing is said to be "not reached", with where the drill
stopped, rather than shown as an empty table.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

from drd.drills import report_format as fmt
from drd.drills import report_svg as svg
from drd.drills.report_markup import (
    Html,
    bullet_list,
    code,
    code_or,
    element,
    escape,
    facts,
    join,
    missing,
    paragraph,
    status_label,
    table,
    value_or,
    when,
)

MAX_LIST_ITEMS = 20
"""Restore messages and missing objects shown before "and N more"."""
MAX_EVENTS = 40
"""The most recent events shown."""
LOG_LINES, LOG_CHARS = 80, 8000
"""The end of each pod's log that is shown."""
MAX_HISTORY = 12
"""Previous drills shown in the history table and sparkline."""

_TEARDOWN = {
    "deleted": fmt.Status("pass", "Deleted", "✓"),
    "kept": fmt.Status("warn", "Kept", "!"),
    "pending": fmt.Status("warn", "Pending", "!"),
    "failed": fmt.Status("fail", "Failed", "✗"),
}


def backup(ev: Mapping[str, Any]) -> Html:
    """Section 2: the backup that was restored, and how old it was."""
    used = fmt.mapping(ev.get("backup"))
    if not used:
        return missing(fmt.stopped_at(ev))
    partial = fmt.flag(used.get("partiallyFailed"))
    return facts(
        [
            ("Backup", code_or(fmt.text(used.get("name")), "unknown")),
            ("Phase", value_or(fmt.phase(used.get("phase")), "unknown")),
            ("Storage location", value_or(fmt.text(used.get("storageLocation")), "unknown")),
            ("Started", value_or(fmt.timestamp(used.get("startedAt")), "unknown")),
            ("Completed", value_or(fmt.timestamp(used.get("completedAt")), "unknown")),
            ("Age at restore", value_or(fmt.duration(used.get("ageSeconds")), "unknown")),
            ("Partially failed", value_or(None if partial is None else ("yes" if partial else "no"), "unknown")),
        ],
    )


def restore(ev: Mapping[str, Any]) -> Html:
    """Section 3: Velero's restore, the namespace mapping, and its warnings and errors."""
    velero = fmt.mapping(ev.get("restore"))
    if not velero:
        return missing(fmt.stopped_at(ev))
    took = fmt.elapsed(velero.get("startedAt"), velero.get("completedAt"))
    parts = [
        facts(
            [
                ("Restore", code_or(fmt.text(velero.get("name")), "unknown")),
                ("Phase", value_or(fmt.phase(velero.get("phase")), "unknown")),
                ("Items restored", value_or(fmt.items(velero), "unknown")),
                ("Started", value_or(fmt.timestamp(velero.get("startedAt")), "unknown")),
                ("Completed", value_or(fmt.timestamp(velero.get("completedAt")), "not completed")),
                ("Took", value_or(fmt.duration(took), "unknown")),
                ("Warnings", value_or(_count(velero.get("warnings")), "unknown")),
                ("Errors", value_or(_count(velero.get("errors")), "unknown")),
            ],
        )
    ]
    mapping = [(fmt.text(n.get("source")), fmt.text(n.get("drill"))) for n in fmt.records(ev.get("namespaces"))]
    if mapping:
        rows = [[code_or(src, "unknown"), code_or(dst, "unknown")] for src, dst in mapping]
        parts.append(element("h3", escape("Namespace mapping"), cls="sub"))
        parts.append(table(["Source namespace", "Drill namespace"], rows, cls="grid compact"))
    for key, heading in (("errorMessages", "Errors reported by Velero"), ("warningMessages", "Warnings from Velero")):
        messages = fmt.strings(velero.get(key))
        if messages:
            parts.append(element("h3", escape(heading), cls="sub"))
            parts.append(_capped_list([escape(m) for m in messages]))
    return join(parts)


def _count(value: Any) -> str | None:
    found = fmt.number(value)
    return None if found is None else f"{found:.0f}"


def _capped_list(items: list[Html]) -> Html:
    shown = items[:MAX_LIST_ITEMS]
    if len(items) > MAX_LIST_ITEMS:
        shown.append(element("span", escape(f"and {len(items) - MAX_LIST_ITEMS} more"), cls="muted"))
    return bullet_list(shown, cls="plain")


def objects(ev: Mapping[str, Any]) -> Html:
    """Section 4: the objects expected in the drill namespaces, and those missing."""
    counted = fmt.mapping(ev.get("objects"))
    expected, found = fmt.number(counted.get("expected")), fmt.number(counted.get("found"))
    if expected is None or found is None:
        return missing(fmt.stopped_at(ev))
    absent = fmt.strings(counted.get("missing"))
    status = fmt.status(not absent and found >= expected)
    lead = f"{found:.0f} of {expected:.0f} expected objects were found in the drill namespaces."
    parts = [paragraph(Html(f"{status_label(status)}{escape(lead)}"), cls="lead")]
    if absent:
        parts.append(element("h3", escape("Missing objects"), cls="sub"))
        parts.append(_capped_list([code(name) for name in absent]))
    return join(parts)


def checks(ev: Mapping[str, Any]) -> Html:
    """Section 5: every check with its result, duration and detail."""
    if not fmt.checks_reached(ev):
        return missing(fmt.stopped_at(ev))
    results = fmt.records(ev.get("checks"))
    if not results:
        return paragraph(escape("The policy defines no checks."), cls="missing")
    passed = sum(c.get("passed") is True for c in results)
    status = fmt.status(passed == len(results))
    lead = paragraph(Html(f"{status_label(status)}{escape(f'{passed} of {len(results)} checks passed.')}"), cls="lead")
    rows, classes = [], []
    for check in results:
        result = fmt.status(fmt.flag(check.get("passed")))
        rows.append(
            [
                status_label(result),
                code(fmt.text(check.get("name")) or "unnamed"),
                value_or(fmt.text(check.get("type")), "—"),
                value_or(fmt.milliseconds(check.get("durationMs")), "—"),
                value_or(fmt.text(check.get("detail")), "no detail"),
            ]
        )
        classes.append("row-fail" if result.key == "fail" else "")
    headers = ["Result", "Check", "Type", "Took", "Detail"]
    return join([lead, table(headers, rows, numeric=[3], nowrap=[1, 2], row_classes=classes)])


def timeline(ev: Mapping[str, Any]) -> Html:
    """Section 6: the phases to scale, with the RTO bracketed, and every step."""
    measurements = fmt.mapping(ev.get("measurements"))
    raw = fmt.mapping(measurements.get("phases"))
    measured = {str(name): fmt.number(value) for name, value in raw.items()}
    phases = svg.ordered_phases({name: value for name, value in measured.items() if value is not None})
    steps = fmt.records(ev.get("steps"))
    if not phases and not steps:
        return missing(fmt.stopped_at(ev))
    parts: list[Html] = []
    if phases:
        total = sum(seconds for _, seconds in phases)
        parts.append(svg.phase_bar(phases, rto_seconds=fmt.number(measurements.get("rtoSeconds"))))
        legend = [
            Html(
                f'<li><span class="swatch sw-{i % 4}" aria-hidden="true"></span>'
                f"<strong>{escape(name.capitalize())}</strong>&nbsp;{escape(fmt.duration(seconds))} "
                f"<span class='muted'>({_share(seconds / total)})</span></li>"
            )
            for i, (name, seconds) in enumerate(phases)
        ]
        parts.append(element("ul", join(legend), cls="legend"))
    if steps:
        rows, classes, notes = [], [], []
        for number, step in enumerate(steps, start=1):
            error = fmt.text(step.get("error"))
            attempts = fmt.number(step.get("attempts"))
            rows.append(
                [
                    escape(number),
                    code(fmt.text(step.get("id")) or "unnamed"),
                    value_or(fmt.text(step.get("type")), "—"),
                    value_or(fmt.phase(step.get("phase")), "—"),
                    value_or(None if attempts is None else f"{attempts:.0f}", "—"),
                    when(step.get("startedAt"), fmt.NOT_REACHED),
                    value_or(fmt.duration(fmt.elapsed(step.get("startedAt"), step.get("finishedAt"))), "—"),
                ]
            )
            classes.append("row-fail" if error or step.get("phase") == "Failed" else "")
            notes.append(Html(f"<strong>Error:</strong> {escape(error)}") if error else None)
        headers = ["#", "Step", "Type", "Phase", "Attempts", "Started", "Took"]
        parts.append(table(headers, rows, numeric=[0, 4, 6], nowrap=[1, 3], row_classes=classes, notes=notes))
    return join(parts)


def _share(fraction: float) -> str:
    return "<1%" if 0 < fraction < 0.005 else f"{fraction:.0%}"


def diagnostics(ev: Mapping[str, Any]) -> Html:
    """Section 7: the drill namespaces' events, and the end of each pod's log (collapsed)."""
    collected = fmt.mapping(ev.get("diagnostics"))
    events = fmt.records(collected.get("events"))
    logs = {str(k): str(v) for k, v in fmt.mapping(collected.get("logs")).items() if v is not None}
    if not events and not logs:
        return missing("no events or logs were collected from the drill namespaces")
    parts: list[Html] = []
    if events:
        shown = events[-MAX_EVENTS:]
        rows = []
        for event in shown:
            kind, name = fmt.text(event.get("kind")), fmt.text(event.get("name"))
            kind_name = "/".join(p for p in (kind, name) if p)
            count = fmt.number(event.get("count"))
            rows.append(
                [
                    _event_type(fmt.text(event.get("type"))),
                    escape(event.get("reason") or ""),
                    code(kind_name) if kind_name else Html(""),
                    escape(event.get("message") or ""),
                    escape(f"{count:.0f}" if count is not None else ""),
                    when(event.get("lastTimestamp")),
                ]
            )
        caption = f"The last {len(shown)} of {len(events)} events." if len(shown) < len(events) else None
        parts.append(element("h3", escape(f"Events ({len(events)})"), cls="sub"))
        headers = ["Type", "Reason", "Object", "Message", "Count", "Last seen"]
        parts.append(table(headers, rows, numeric=[4], nowrap=[1, 2], caption=caption))
    if logs:
        parts.append(element("h3", escape(f"Logs ({fmt.plural(len(logs), 'pod')})"), cls="sub"))
        for pod, log in logs.items():
            kept, lines, cut = fmt.tail(log, lines=LOG_LINES, chars=LOG_CHARS)
            note = f"{fmt.plural(lines, 'line')}" + (", the end shown" if cut else "")
            parts.append(
                Html(
                    f"<details><summary>{code(pod)}<span class='muted'>{escape(note)}</span></summary>"
                    f"<pre>{escape(kept)}</pre></details>"
                )
            )
    return join(parts)


def _event_type(kind: str | None) -> Html:
    if kind == "Warning":
        return status_label(fmt.STATUSES["warn"], "Warning")
    return value_or(kind, "—")


def teardown(ev: Mapping[str, Any]) -> Html:
    """Section 8: whether the drill namespaces are gone, or kept until when."""
    recorded = fmt.mapping(ev.get("teardown"))
    if not recorded:
        return missing("teardown was not recorded")
    raw = fmt.text(recorded.get("status"))
    status = _TEARDOWN.get((raw or "").lower(), fmt.UNKNOWN)
    names = fmt.strings(recorded.get("namespaces"))
    return facts(
        [
            ("Status", status_label(status, raw.capitalize() if raw else None)),
            ("Namespaces", join((code(n) for n in names), ", ") or value_or(None, "none")),
            ("Kept until", value_or(fmt.timestamp(recorded.get("keptUntil")), "—")),
            ("Note", value_or(fmt.text(recorded.get("message")), "—")),
        ],
    )


def history(ev: Mapping[str, Any]) -> Html:
    """Section 9: this drill among the policy's previous ones, with an RTO sparkline."""
    previous = fmt.records(ev.get("history"))[:MAX_HISTORY]
    if not previous:
        return paragraph(escape("This is the first recorded drill of this policy."), cls="missing")
    current = {
        "run": ev.get("run"),
        "startedAt": ev.get("startedAt"),
        "result": ev.get("result"),
        "rtoSeconds": fmt.mapping(ev.get("measurements")).get("rtoSeconds"),
    }
    rows, classes = [], []
    for n, drill in enumerate([current, *previous]):
        verdict = fmt.verdict(drill)
        run = fmt.text(drill.get("run")) or "unknown"
        rows.append(
            [
                Html(code(run) + (escape(" (this drill)") if n == 0 else "")),
                when(drill.get("startedAt"), "unknown"),
                status_label(verdict.status, verdict.word),
                value_or(fmt.duration(drill.get("rtoSeconds")), "—"),
            ]
        )
        classes.append("row-current" if n == 0 else "")
    listing = table(["Run", "Started", "Result", "RTO"], rows, numeric=[3], row_classes=classes)
    points = [
        svg.Point(str(d.get("run") or ""), rto, passed=fmt.verdict(d).status.key == "pass", current=n == 0)
        for n, d in enumerate([current, *previous])
        if (rto := fmt.number(d.get("rtoSeconds"))) is not None
    ][::-1]
    spark = svg.sparkline(points)
    if not spark:
        return listing
    values = sorted(p.rto_seconds for p in points)
    median = statistics.median(values)
    failed = sum(not p.passed for p in points)
    trend = (
        f"RTO over the last {len(points)} measured drills: {fmt.duration(values[0])} to {fmt.duration(values[-1])}, "
        f"median {fmt.duration(median)}; {failed} of {len(points)} failed."
    )
    key = "Oldest on the left. Filled dot: passed; hollow dot: failed" + (
        "; ringed: this drill." if any(p.current for p in points) else "."
    )
    caption = Html(f"{escape(trend)}<span class='muted'>{escape(key)}</span>")
    return Html(f'<figure class="trend">{spark}<figcaption>{caption}</figcaption></figure>{listing}')
