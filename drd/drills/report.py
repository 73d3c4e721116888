"""A drill's evidence as a document: one self-contained HTML page for auditors, and a terminal summary.

``drd drill report RUN --html FILE`` writes :func:`render_html`; ``drd drill
show RUN`` prints :func:`render_text`. Both read the evidence document the
drill recorded (see ``docs/drills.md``) and nothing else, so a report can be
regenerated from the store at any time and looks the same.

The page answers an auditor's questions in order: did recovery work and
within the objectives (the masthead), how sure are we (six verification
levels, regressions), then the proof, section by section: the backup used,
the restore, the objects, the checks, the timeline, diagnostics, the
teardown, and the policy's history. A drill that failed early has most of
the evidence missing; each section then says "not reached" and where the
drill stopped, rather than showing empty tables.

Safety: the evidence is redacted when collected; it is redacted once more
here, and every value is escaped. The page loads nothing (inline CSS, inline
SVG, no script) and its Content-Security-Policy forbids loading anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drd import redaction
from drd.drills import report_format as fmt
from drd.drills import report_sections as sections
from drd.drills import report_text
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
    value_or,
)
from drd.drills.report_style import CSS

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def render_html(evidence: Mapping[str, Any]) -> str:
    """The drill report as one HTML document that stands alone, prints on A4 and never loads anything."""
    ev = _redacted(evidence)
    verdict = fmt.verdict(ev)
    title = " — ".join(
        part
        for part in (
            f"Drill report: {ev.get('policy') or ev.get('application') or 'drill'}",
            verdict.word.upper(),
            fmt.timestamp(ev.get("startedAt")),
        )
        if part
    )
    body = join(
        [
            _masthead(ev),
            _section(1, "Verification summary", _levels(ev), aside=_score_aside(ev)),
            _regressions(ev),
            _section(2, "Backup used", sections.backup(ev)),
            _section(3, "Restore", sections.restore(ev)),
            _section(4, "Objects", sections.objects(ev)),
            _section(5, "Checks", sections.checks(ev)),
            _section(6, "Timeline", sections.timeline(ev)),
            _section(7, "Diagnostics", sections.diagnostics(ev)),
            _section(8, "Teardown", sections.teardown(ev)),
            _section(9, "History", sections.history(ev)),
            _footer(ev),
        ]
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="drd"><meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>\n"
        f'<body><main class="paper">{body}</main></body></html>\n'
    )


def render_text(evidence: Mapping[str, Any]) -> str:
    """A compact plain-text summary of the drill for a terminal (no colour, no control characters)."""
    return report_text.summary(_redacted(evidence))


def _redacted(evidence: Mapping[str, Any]) -> Mapping[str, Any]:
    return fmt.mapping(redaction.redact(evidence))


def _section(number: int, title: str, content: Html, *, aside: Html | None = None) -> Html:
    anchor = title.lower().replace(" ", "-")
    extra = element("span", aside, cls="aside") if aside else Html("")
    heading = Html(f'<h2 id="{anchor}"><span class="n">{number}</span>{escape(title)}{extra}</h2>')
    return Html(f'<section aria-labelledby="{anchor}">{heading}{content}</section>')


def _masthead(ev: Mapping[str, Any]) -> Html:
    verdict = fmt.verdict(ev)
    name = fmt.text(ev.get("application")) or fmt.text(ev.get("policy")) or "Unnamed drill"
    source, target = fmt.cluster(ev.get("source")), fmt.cluster(ev.get("target"))
    route = Html(
        f'<p class="route">{value_or(source, "source unknown")}<span class="arrow" aria-label="restored into">→'
        f"</span>{value_or(target, 'target unknown')}</p>"
    )
    badge = Html(
        f'<div class="verdict verdict-{verdict.status.key}"><span class="word">'
        f'<span class="sym" aria-hidden="true">{escape(verdict.status.symbol)}</span>{escape(verdict.word)}</span>'
        f'<span class="phase">{escape(_verdict_note(ev))}</span></div>'
    )
    eyebrow = paragraph(escape("drd · Disaster-recovery drill report"), cls="eyebrow")
    headline = Html(f'<div class="headline"><div>{eyebrow}<h1>{escape(name)}</h1>{route}</div>{badge}</div>')
    run_total = fmt.elapsed(ev.get("startedAt"), ev.get("finishedAt"))
    header_facts = facts(
        [
            ("Policy", value_or(fmt.text(ev.get("policy")), "unknown")),
            ("Run", code_or(fmt.text(ev.get("run")), "unknown")),
            ("Started", value_or(fmt.timestamp(ev.get("startedAt")), "unknown")),
            ("Finished", value_or(fmt.timestamp(ev.get("finishedAt")), "not finished")),
            ("Backup policy", value_or(fmt.text(ev.get("backupPolicy")), "unknown")),
            ("Trigger", value_or(fmt.trigger(ev), "unknown")),
            ("Drill took", value_or(fmt.duration(run_total), "unknown")),
            ("Drill namespaces", _namespaces_inline(ev)),
        ]
    )
    parts = [headline, paragraph(escape(fmt.narrative(ev)), cls="lede"), _failure(ev), header_facts]
    parts.append(Html(f'<div class="objectives">{_objective(ev, "rto")}{_objective(ev, "rpo")}{_score(ev)}</div>'))
    return element("header", join(parts), cls="masthead")


def _verdict_note(ev: Mapping[str, Any]) -> str:
    """Under the verdict: ``Completed``, ``Partially failed at verify`` or ``Stopped at readiness``."""
    verdict, raw_phase = fmt.verdict(ev), fmt.text(ev.get("phase"))
    step = fmt.text(fmt.mapping(ev.get("failure")).get("step"))
    if verdict.status.key == "pass" or not step:
        return fmt.phase(raw_phase) or verdict.explanation
    if raw_phase == "PartiallyFailed":
        return f"Partially failed at {step}"
    return f"Stopped at {step}"


def _namespaces_inline(ev: Mapping[str, Any]) -> Html:
    names = [fmt.text(n.get("drill")) for n in fmt.records(ev.get("namespaces"))]
    return join((code(n) for n in names if n), ", ") or value_or(None, "none")


def _failure(ev: Mapping[str, Any]) -> Html:
    failure = fmt.mapping(ev.get("failure"))
    if not failure:
        return Html("")
    step = fmt.text(failure.get("step"))
    heading = f"Failed at step “{step}”" if step else "Failed"
    message = value_or(fmt.text(failure.get("message")), "no message recorded")
    return Html(f'<div class="callout callout-fail"><h3>{escape(heading)}</h3><p>{message}</p></div>')


def _objective(ev: Mapping[str, Any], key: str) -> Html:
    view = fmt.objective(ev, key)
    title = {"rto": "Recovery time (RTO)", "rpo": "Recovery point (RPO)"}[key]
    label = status_label(view.status, view.word)
    objective = fmt.duration(view.allowed)
    note = f"Objective {objective}" if objective else "No objective recorded"
    if view.achieved is None:
        figure = Html('<p class="figure missing">Not reached</p>')
        step = fmt.text(fmt.mapping(ev.get("failure")).get("step"))
        note = f"The drill stopped at {step} · {note.lower()}" if step else note
    else:
        figure = Html(f'<p class="figure">{escape(fmt.duration(view.achieved))}</p>')
    meter = Html("")
    if view.achieved is not None and view.allowed:
        share = view.achieved / view.allowed
        note += f" · {share:.0%} used"
        meter = Html(f'<div class="meter" aria-hidden="true"><span style="width:{min(1.0, share):.1%}"></span></div>')
    return Html(
        f'<div class="objective objective-{view.status.key}"><h3>{escape(title)}{label}</h3>{figure}'
        f'<p class="note">{escape(note)}</p>{meter}</div>'
    )


def _score(ev: Mapping[str, Any]) -> Html:
    score = fmt.number(ev.get("score"))
    if score is None:
        figure, meter = Html('<p class="figure missing">not scored</p>'), Html("")
    else:
        score = max(0.0, min(100.0, score))
        figure = Html(f'<p class="figure">{score:.0f}<small> / 100</small></p>')
        meter = Html(f'<div class="meter" aria-hidden="true"><span style="width:{score:.0f}%"></span></div>')
    note = paragraph(escape("From the six verification levels below"), cls="note")
    return Html(f'<div class="objective objective-score"><h3>Confidence</h3>{figure}{note}{meter}</div>')


def _score_aside(ev: Mapping[str, Any]) -> Html | None:
    levels = [fmt.status(level.get("status")) for level in fmt.records(ev.get("levels"))]
    if not levels:
        return None
    passed = sum(s.key == "pass" for s in levels)
    return escape(f"{passed} of {fmt.plural(len(levels), 'level')} passed")


def _levels(ev: Mapping[str, Any]) -> Html:
    levels = fmt.records(ev.get("levels"))
    if not levels:
        return missing("the verification levels were " + fmt.stopped_at(ev).replace("not reached", "not evaluated"))
    cards = []
    for level in levels:
        status = fmt.status(level.get("status"))
        name = element("span", escape(fmt.text(level.get("level")) or "Unnamed level"), cls="name")
        detail = fmt.text(level.get("detail"))
        cards.append(
            Html(
                f'<li class="card card-{status.key}">{status_label(status)}{name}'
                f"{element('span', escape(detail), cls='detail') if detail else Html('')}</li>"
            )
        )
    return element("ul", join(cards), cls="levels")


def _regressions(ev: Mapping[str, Any]) -> Html:
    found = fmt.records(ev.get("regressions"))
    if not found:
        return Html("")
    items = [
        Html(f'<span class="tag">{escape(fmt.text(r.get("kind")) or "other")}</span>{escape(r.get("detail") or "")}')
        for r in found
    ]
    heading = escape(f"{fmt.plural(len(found), 'regression')} since the previous drill")
    return Html(f'<div class="callout callout-warn"><h3>{heading}</h3>{bullet_list(items)}</div>')


def _footer(ev: Mapping[str, Any]) -> Html:
    run = fmt.text(ev.get("run")) or "unknown"
    lines = [
        f"Generated by drd from the evidence recorded for drill run {run}.",
        "Secrets are redacted when evidence is collected. All times are UTC.",
    ]
    return element("footer", join(paragraph(escape(line)) for line in lines))
