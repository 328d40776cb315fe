"""The markdown report: hostile event text stays inert, the report fits GitHub's comment limit.

Rendering goes through cmark-gfm (GitHub's own markdown library) with raw HTML allowed, so a
test fails if anything we escape would still become a link, an image, HTML or a broken table.
"""

from __future__ import annotations

import re

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from trailpolicy.diff import compare
from trailpolicy.policy import document
from trailpolicy.render.markdown import GITHUB_COMMENT_LIMIT, code, escape, render_policies, render_report

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "[click](https://evil.example/steal)",
    "![pixel](https://evil.example/p.png)",
    "https://evil.example/a www.evil.example mail@evil.example",
    "@octocat please approve",
    "cell | break | the | table",
    "`code` ``span`` ```fence```",
    "line\nbreak\r\n# heading\n---",
    "**bold** _em_ ~~strike~~ &amp; &#64;x",
    "\u202eevil\u202c <!-- comment -->",
    "\\| escaped pipe \\",
    "[ref]: https://evil.example",
    "fixes #12 and org/repo#5, see GH-12 or gh-7",
]


def html(markdown: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


def assert_inert(rendered: str) -> None:
    for tag in ("<a ", "<img", "<script", "<del", "<h1", "<hr", "<!--", "<em"):
        assert tag not in rendered, tag
    # GitHub turns "@name", "#12", "org/repo#5" and "GH-12" in text (not in code) into mentions and
    # issue links after rendering.
    text = re.sub(r"<code[^>]*>.*?</code>", "", rendered, flags=re.S)
    assert "@octocat" not in text
    assert not re.search(r"#\d|GH-\d", text, re.IGNORECASE), text


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_renders_literally_in_a_table_cell(text):
    rendered = html(f"| a | b |\n|---|---|\n| {escape(text)} | {code(text)} |\n")
    assert_inert(rendered)
    assert "<strong" not in rendered
    assert rendered.count("<td>") == 2
    assert "\n" not in escape(text) and "\n" not in code(text)


def test_escape_keeps_the_visible_text():
    text = "bucket-name_01 (prod) [x]"
    assert re.sub(r"<[^>]+>", "", html(escape(text))).strip() == text
    assert "<td><code>a`b|c</code></td>" in html(f"| a |\n|---|\n| {code('a`b|c')} |\n")


def _hostile_drift():
    arns = [f"arn:aws:iam::111122223333:user/{text}" for text in HOSTILE]
    generated = {arn: document(["s3:GetObject", "iam:PassRole"]) for arn in arns}
    baseline = {arns[0]: {"Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}}
    usage = {arn: {"s3:GetObject": {"count": 3, "denied": 1, "first_seen": HOSTILE[0]}} for arn in arns}
    report = {
        "run": {
            "window": {"start": "2024-05-01T00:00:00Z", "end": HOSTILE[2]},
            "sources": [{"kind": HOSTILE[0], "location": HOSTILE[3], "note": "x"}],
            "events": {"read": 5, "in_scope": 4, "out_of_scope": {HOSTILE[4]: 1}},
            "bad_inputs": [{"input": HOSTILE[5], "reason": HOSTILE[6]}],
            "gaps": [{"what": HOSTILE[7], "reason": HOSTILE[8]}],
            "regions_seen": [HOSTILE[9]], "accounts_seen": [HOSTILE[10]], "catalog_version": HOSTILE[11],
        },
        "identities": {arns[1]: {"skipped": [], "unmapped": [{"call": t, "count": 1, "reason": t} for t in HOSTILE]}},
    }
    return compare(baseline, generated, usage, HOSTILE[12]), report


def test_report_with_hostile_event_text_is_inert():
    drift, report = _hostile_drift()
    markdown = render_report(drift, report)
    rendered = html(markdown)
    assert_inert(rendered)
    # Every table row has as many cells as its header.
    for table in re.findall(r"<table>.*?</table>", rendered, re.S):
        header = table.split("</thead>")[0].count("<th>")
        rows = re.findall(r"<tr>(.*?)</tr>", table.split("</thead>")[1], re.S)
        assert rows and all(row.count("<td>") == header for row in rows)
    assert "<details>" in rendered and rendered.count("<table>") >= len(HOSTILE)


@pytest.mark.parametrize("limit", [3_000, 8_000, 12_000])
def test_report_is_cut_to_the_limit_with_a_note(limit):
    drift, report = _hostile_drift()
    full = render_report(drift, report, max_chars=None)
    assert len(full) > limit
    cut = render_report(drift, report, max_chars=limit, full_report_note="Full report: the run's artifacts.")
    assert len(cut) <= limit
    assert "Report truncated" in cut and "Full report: the run's artifacts." in cut
    assert cut.startswith(full.split("\n\n", 2)[0])  # the verdict always stays
    assert "### Updating the baseline" in cut
    assert_inert(html(cut))
    assert cut.count("<details>") == cut.count("</details>")


def test_large_drift_fits_a_github_comment():
    arns = [f"arn:aws:iam::111122223333:role/service-role-{n:04d}" for n in range(600)]
    drift = compare({}, {arn: document(["s3:GetObject", "s3:PutObject", "iam:PassRole"]) for arn in arns})
    full = render_report(drift, max_chars=None)
    assert len(full) > GITHUB_COMMENT_LIMIT
    markdown = render_report(drift)
    assert len(markdown) <= GITHUB_COMMENT_LIMIT and "Report truncated" in markdown
    assert "drift.json" in markdown


def test_no_drift_report_is_short_and_says_so():
    arn = "arn:aws:iam::111122223333:user/alice"
    drift = compare({arn: document(["s3:GetObject"])}, {arn: document(["s3:GetObject"])})
    markdown = render_report(drift)
    assert "**No drift:**" in markdown
    assert "<details>" not in markdown and "Updating the baseline" not in markdown


def _many_policies_report(n: int) -> dict:
    arns = [f"arn:aws:iam::111122223333:role/service-role-{i:05d}" for i in range(n)]
    return {
        "run": {"events": {"read": n * 3, "in_scope": n * 2}, "identities_without_events": arns[: n // 4]},
        "identities": {arn: {"actions": [] if i % 3 == 0 else [{"action": "s3:GetObject"}],
                             "policy_file": f"policies/111122223333-role-service-role-{i:05d}.json"}
                       for i, arn in enumerate(arns)},
    }


def test_generated_policies_report_fits_a_github_comment():
    report = _many_policies_report(2_000)
    full = render_policies(report, max_chars=None)
    assert len(full) > GITHUB_COMMENT_LIMIT
    cut = render_policies(report)
    assert len(cut) <= GITHUB_COMMENT_LIMIT and "Report truncated" in cut
    assert cut.startswith(full.split("\n\n", 2)[0] + "\n\n" + full.split("\n\n", 2)[1])  # counts line stays
    small = render_policies(report, max_chars=3_000, full_report_note="See the artifacts.")
    assert len(small) <= 3_000 and "See the artifacts." in small
    assert render_policies(_many_policies_report(3)) == render_policies(_many_policies_report(3), max_chars=None)


@pytest.mark.parametrize("text", ["#12", "org/repo#5", "GH-12", "gh-12", "see#3", "(#4)"])
def test_issue_references_are_broken_but_read_the_same(text):
    rendered = html(escape(text))
    assert_inert(rendered)
    assert re.sub(r"<[^>]+>", "", rendered).strip().replace("\u200b", "") == text
