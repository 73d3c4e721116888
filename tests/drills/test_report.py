"""The drill report: one self-contained HTML page, and a terminal summary, from a drill's evidence.

Aspects: the verdict, objectives and every check of a passed drill; a drill
that failed early saying "not reached" where it stopped; a partially failed
drill's regressions, missing objects and warnings; the page being well-formed,
script-free and loading nothing; hostile strings escaped and credentials
masked; malformed or empty evidence rendered rather than raised on; long logs
and tiny phases; human units; the text summary.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest

from drd.drills import report
from drd.drills import report_format as fmt
from drd.drills import report_svg as svg
from tests.drills.report_samples import failed_early_drill, partially_failed_drill, passed_drill

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>\" onmouseover=\"alert(2)"
VOID = {"meta", "br", "img", "input", "link", "hr", "wbr", "source", "col", "area", "base", "embed", "track"}
SVG_EMPTY = {"rect", "line", "circle", "polyline", "path"}


class Page(HTMLParser):
    """The parsed page: its tags with attributes, its visible text, and any nesting errors."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.errors: list[str] = []
        self.chunks: list[str] = []
        self.styles: list[str] = []
        self._open: list[str] = []
        self.feed(markup)
        self.close()
        if self._open:
            self.errors.append(f"unclosed: {self._open}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self._open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self._open or self._open[-1] != tag:
            self.errors.append(f"</{tag}> closes {self._open[-1:]}")
            return
        self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1] == "style":
            self.styles.append(data)
        elif not self._open or self._open[-1] != "title":
            self.chunks.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.chunks).split())

    def names(self) -> set[str]:
        return {tag for tag, _ in self.tags}

    def title(self, markup: str) -> str:
        found = re.search(r"<title>(.*?)</title>", markup, re.S)
        assert found
        return found[1]


def page(evidence: dict[str, Any]) -> tuple[str, Page]:
    markup = report.render_html(evidence)
    return markup, Page(markup)


ALL = {
    "passed": passed_drill,
    "failed early": failed_early_drill,
    "partially failed": partially_failed_drill,
    "empty": dict,
}


@pytest.mark.parametrize("build", ALL.values(), ids=ALL.keys())
def test_page_is_well_formed_and_self_contained(build):
    """Every element is closed in order; there is no script, and nothing is loaded from anywhere."""
    markup, parsed = page(build())
    assert markup.startswith("<!DOCTYPE html>")
    assert parsed.errors == []
    assert "<script" not in markup.lower()
    assert not {"script", "iframe", "object", "embed", "link", "img", "base", "form"} & parsed.names()
    for tag, attrs in parsed.tags:
        for name in ("src", "href", "srcset", "action", "xlink:href", "xmlns", "background"):
            assert name not in attrs, f"<{tag} {name}=…>"
        assert not any(name.startswith("on") for name in attrs), tag
    css = " ".join(parsed.styles)
    assert "url(" not in css
    assert "@import" not in css
    assert ("meta", {"http-equiv": "Content-Security-Policy"}) in [
        (tag, {"http-equiv": attrs.get("http-equiv")}) for tag, attrs in parsed.tags
    ]


def test_passed_drill_states_the_verdict_and_objectives():
    """The masthead says PASSED, with RTO and RPO achieved against their objectives, and the confidence score."""
    markup, parsed = page(passed_drill())
    assert "PASSED" in parsed.title(markup)
    assert 'class="verdict verdict-pass"' in markup
    text = parsed.text
    assert "✓ Passed" in text
    assert "Recovery time (RTO) ✓ Met 42 s Objective 30 m · 2% used" in text
    assert "Recovery point (RPO) ✓ Met 1 h Objective 2 h · 50% used" in text
    assert "100 / 100" in text
    assert "primary-east (us-east-1) → dr-west (us-west-2)" in text
    assert "2026-06-01 02:00:03 UTC" in text
    assert "recovery was verified 42 s after the restore began." in text
    assert "6 of 6 levels passed" in text


@pytest.mark.parametrize("build", [passed_drill, partially_failed_drill], ids=["passed", "partially failed"])
def test_every_check_and_level_is_listed(build):
    """Each check appears by name with its result, and each of the six levels as a card."""
    evidence = build()
    _, parsed = page(evidence)
    for check in evidence["checks"]:
        assert check["name"] in parsed.text
    for level in evidence["levels"]:
        assert level["level"] in parsed.text
    assert sum(attrs.get("class", "").startswith("card ") for tag, attrs in parsed.tags if tag == "li") == 6


def test_failed_early_drill_says_what_was_not_reached():
    """A drill stopped at readiness shows the failure first, and 'not reached' where evidence is missing."""
    markup, parsed = page(failed_early_drill())
    text = parsed.text
    assert "ERROR" in parsed.title(markup)
    assert "✗ Error Stopped at readiness" in text
    assert "the drill ended in error at readiness; recovery was not proven." in text
    assert "Failed at step “readiness” Deployment drill-shop-7k2f/checkout: 0 of 2 replicas Ready" in text
    assert "Recovery time (RTO) – Not measured Not reached The drill stopped at readiness · objective 30 m" in text
    assert "5 Checks Not reached (the drill stopped at readiness)." in text
    assert "Error: timed out after 10 m: checkout 0/2 Ready" in text
    assert "! Kept" in text
    assert "2026-06-02 02:10:31 UTC" in text
    assert "ImagePullBackOff" in text
    assert "regression" not in text


def test_partially_failed_drill_shows_regressions_and_what_is_missing():
    """Regressions are called out by kind; the missing object, Velero's warnings and the failing check are listed."""
    evidence = partially_failed_drill()
    _, parsed = page(evidence)
    text = parsed.text
    assert "3 regressions since the previous drill" in text
    for regression in evidence["regressions"]:
        assert f"{regression['kind']} {regression['detail']}" in text
    assert "✗ Failed Partially failed at verify" in text
    assert "17 of 18 expected objects were found" in text
    assert "apps/v1/Deployment drill-shop-7k2f/recommendations" in text
    assert "storage class gp3-east mapped to gp3" in text
    assert "3 of 4 checks passed." in text
    assert "Recovery time (RTO) ✗ Missed 34 m 35 s Objective 30 m · 115% used" in text


def test_an_empty_check_list_means_not_reached_unless_the_drill_verified():
    """The evidence builder writes ``checks: []`` for both; the verify step decides which the page says."""
    stopped = failed_early_drill()
    stopped["checks"] = []
    assert "5 Checks Not reached (the drill stopped at readiness)." in page(stopped)[1].text
    assert "Checks:" not in report.render_text(stopped)
    verified = passed_drill()
    verified["checks"] = []
    assert "5 Checks The policy defines no checks." in page(verified)[1].text


def test_evidence_as_the_store_writes_it():
    """Offsets, fractions and naive ISO timestamps all read as UTC; items restored without a total still show."""
    evidence = passed_drill()
    evidence["startedAt"] = "2026-06-01T02:00:03.123456+00:00"
    evidence["finishedAt"] = "2026-06-01T02:00:50"
    del evidence["restore"]["totalItems"]
    text = page(evidence)[1].text
    assert "Started 2026-06-01 02:00:03 UTC Finished 2026-06-01 02:00:50 UTC" in text
    assert "Drill took 47 s" in text
    assert "Items restored 118 Started" in text
    assert "drill-shop-01jz8q3m (Completed, 118 items, 0 warnings, 0 errors)" in report.render_text(evidence)


def test_hostile_strings_are_escaped_everywhere():
    """Markup in any evidence string shows as text: no element, attribute or handler comes from the evidence."""
    evidence = partially_failed_drill()
    evidence["policy"] = HOSTILE
    evidence["checks"][1]["name"] = HOSTILE
    evidence["checks"][1]["detail"] = HOSTILE
    evidence["failure"]["message"] = HOSTILE
    evidence["regressions"][0]["detail"] = HOSTILE
    evidence["diagnostics"]["events"][0]["message"] = HOSTILE
    evidence["diagnostics"]["logs"] = {HOSTILE: HOSTILE}
    evidence["history"][0]["run"] = HOSTILE
    markup, parsed = page(evidence)
    assert parsed.errors == []
    assert HOSTILE not in markup
    assert "<script" not in markup.lower()
    assert "img" not in parsed.names()
    assert not any(name.startswith("on") for _, attrs in parsed.tags for name in attrs)
    assert parsed.text.count("<script>alert('x')</script>") >= 7
    assert "&lt;script&gt;" in parsed.title(markup)


def test_credentials_are_masked_even_if_collection_missed_them():
    """A URL with a password or a bearer token left in a log is masked in the page and the summary."""
    evidence = failed_early_drill()
    evidence["diagnostics"]["logs"] = {
        "p": "connecting to postgres://shop:hunter2@db:5432\nAuthorization: Bearer abc.def"
    }
    evidence["failure"]["message"] = "GET https://admin:hunter2@registry/v2 failed"
    assert "hunter2" not in report.render_html(evidence)
    assert "abc.def" not in report.render_html(evidence)
    assert "hunter2" not in report.render_text(evidence)


def test_malformed_evidence_is_rendered_not_raised():
    """Wrong types (text for numbers, a string for a list, nonsense timestamps) degrade to 'unknown', never fail."""
    evidence = {
        "result": "passed",
        "startedAt": "yesterday",
        "score": "high",
        "checks": "all of them",
        "levels": [None, {"level": "Checks", "status": "maybe"}],
        "measurements": {"rtoSeconds": "NaN", "phases": {"restore": "x", "verify": 3}},
        "objects": {"expected": "18", "found": 17, "missing": None},
        "history": [{"run": "r1", "rtoSeconds": "fast"}, "junk"],
        "teardown": {"status": None},
        "diagnostics": {"events": [{}], "logs": {"p": None}},
    }
    _, parsed = page(evidence)
    assert parsed.errors == []
    assert "yesterday" in parsed.text
    assert "? Unknown Checks" in parsed.text
    assert "17 of 18 expected objects" in parsed.text
    assert "Verify 3.0 s" in parsed.text
    assert report.render_text(evidence)


def test_long_logs_show_their_end_in_collapsible_blocks():
    """A pod's log is a <details> block holding its last lines; the summary says how much was cut."""
    evidence = failed_early_drill()
    evidence["diagnostics"]["logs"] = {"drill-shop-7k2f/checkout-0": "\n".join(f"line {n}" for n in range(1, 501))}
    markup, parsed = page(evidence)
    assert "details" in parsed.names()
    assert "500 lines, the end shown" in parsed.text
    assert "line 500" in markup
    assert "line 420\n" not in markup
    assert "line 421\n" in markup


def test_a_tiny_phase_is_still_drawn():
    """A 3 s teardown after a 30 m restore gets a visible sliver, and the bar still fills the width exactly."""
    bar = svg.phase_bar([("restore", 1810.0), ("verify", 265.0), ("teardown", 3.4)], rto_seconds=2075.0)
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([0-9.]+)%"', bar)]
    assert len(widths) == 3
    assert widths[2] >= 0.79
    assert sum(widths) == pytest.approx(100.0, abs=0.01)
    assert "RTO 34 m 35 s" in bar


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.42, "0.4 s"),
        (3.24, "3.2 s"),
        (9.96, "10 s"),
        (42.1, "42 s"),
        (59.6, "1 m"),
        (725, "12 m 5 s"),
        (3600, "1 h"),
        (3660, "1 h 1 m"),
        (7200.0, "2 h"),
        (2 * 86400 + 3 * 3600 + 59, "2 d 3 h"),
        (-3, "0.0 s"),
        ("90", "1 m 30 s"),
        (None, None),
        ("soon", None),
        (True, None),
        (float("inf"), None),
    ],
)
def test_durations_read_as_people_write_them(seconds, expected):
    """Two units at most, the smaller dropped when zero; unknown values are None, not zero."""
    assert fmt.duration(seconds) == expected


def test_timestamps_are_utc_and_say_so():
    """RFC 3339 in any offset becomes UTC with the zone written out; garbage is shown as written."""
    assert fmt.timestamp("2026-06-01T04:00:14+02:00") == "2026-06-01 02:00:14 UTC"
    assert fmt.timestamp("2026-06-01T02:00:14.250Z") == "2026-06-01 02:00:14 UTC"
    assert fmt.timestamp("not a time") == "not a time"
    assert fmt.timestamp(None) is None
    assert fmt.milliseconds(41.0) == "41 ms"
    assert fmt.milliseconds(1240) == "1.2 s"


def test_text_summary_of_a_passed_drill():
    """The terminal summary leads with the verdict, then objectives, evidence, levels and checks, one per line."""
    lines = report.render_text(passed_drill()).splitlines()
    assert lines[0] == "Drill 01JZ8Q3M5V7K2F9XWPR4T6HB1N: PASSED (Completed)"
    assert "  RTO          42 s of 30 m objective: met" in lines
    assert "  RPO          1 h of 2 h objective: met" in lines
    assert "  trigger      schedule, requested by drd-0" in lines
    assert "  objects      18 of 18 found" in lines
    assert "Checks: 4 of 4 passed" in lines
    assert any(
        line.startswith("  PASS storefront-healthy") and line.endswith("41 ms  GET /healthz → 200 in 41 ms")
        for line in lines
    )


def test_text_summary_of_a_drill_that_failed_early():
    """The failure line comes right after the overview; what was not reached says where the drill stopped."""
    text = report.render_text(failed_early_drill())
    assert text.startswith("Drill 01JZ8R7W2N5D8G1K4M7P0S3V6Y: ERROR (Failed)\n")
    assert "  RTO          not reached (the drill stopped at readiness); objective 30 m\n" in text
    assert "\n\nFailed at readiness: Deployment drill-shop-7k2f/checkout: 0 of 2 replicas Ready" in text
    assert "  FAIL Readiness" in text
    assert "Checks:" not in text


def test_text_summary_lists_regressions_and_cannot_be_forged():
    """Regressions are listed by kind; control characters and line breaks in evidence cannot forge summary lines."""
    evidence = partially_failed_drill()
    evidence["checks"][0]["detail"] = "ok\x1b[2J\x1b[31m\nPASS everything-is-fine"
    text = report.render_text(evidence)
    assert "Regressions since the previous drill (3)" in text
    assert "  rto      RTO 34 m 35 s, up from 40 s; over the 30 m objective" in text
    assert "\x1b" not in text
    assert "\nPASS everything-is-fine" not in text
    assert "ok PASS everything-is-fine" in text


def test_text_summary_of_empty_evidence():
    """With nothing recorded, the summary still has its shape and says so."""
    assert report.render_text({}).splitlines()[:2] == [
        "Drill unknown: NO RESULT",
        "  policy       unknown (application unknown)",
    ]
