"""The drift report in markdown: ``report.md``, and the pull-request comment and step summary.

Everything that comes from events (identity ARNs, call names, source locations, reasons) is
attacker-controllable text: anyone who can make an API call can choose a resource or role name,
and a forged log file can hold anything. So no such text reaches the markdown unescaped: free
text goes through ``escape`` (no links, mentions, issue references, HTML, emphasis or broken
tables), identifiers through ``code`` (a code span, where GitHub renders nothing).

GitHub refuses comments longer than 65,536 characters, so the report is built from blocks in
order of importance and cut at a block or table row, with a note saying where the full report is.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass

from ..diff import Drift, IdentityDrift

# GitHub refuses issue comments longer than 65,536 characters.
GITHUB_COMMENT_LIMIT = 65_536
# Shown where a report was cut (report.md, the step summary, the PR comment).
FULL_REPORT_NOTE = ("Everything is in the output directory: `report.json` and, with a baseline, `drift.json`, "
                    "`patch.json` and `report.md` (in CI, upload it as an artifact).")

# Every ASCII punctuation character may be backslash-escaped in CommonMark, and then means itself.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# Autolinks, mentions and issue references are found in rendered text, after escapes are gone:
# break them up with a zero-width space instead ("@name", "https://", "www.", "user@host"; "#12",
# "org/repo#5" and "GH-12", which GitHub links to an issue or pull request).
_LINKISH = re.compile(r"(@|://|www\.)|(#|GH-)(?=\d)", re.IGNORECASE)
_ZWSP = "\u200b"
# Bidirectional overrides can make a table cell read differently from what it holds.
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _plain(text: object) -> str:
    """One line of printable text: control and bidi characters become spaces."""
    return "".join(
        " " if unicodedata.category(ch) == "Cc" or ch in _BIDI else ch for ch in str(text)
    ).strip()


def _break_link(match: re.Match) -> str:
    if match.group(2):  # an issue reference: the space goes before the number
        return match.group(2) + _ZWSP
    return match.group(1)[0] + _ZWSP + match.group(1)[1:]


def escape(text: object) -> str:
    """Untrusted text, rendered literally by GitHub markdown, safe inside a table cell."""
    broken = _LINKISH.sub(_break_link, _plain(text))
    return _PUNCTUATION.sub(r"\\\1", broken)


def code(text: object) -> str:
    """Untrusted text as an inline code span for a table cell: literal, monospace, one cell."""
    body = _plain(text).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", body)), default=0) + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return f"{fence}{pad}{body}{pad}{fence}"


@dataclass
class _Block:
    """Lines that belong together; ``head`` lines (heading, table header) may keep only some rows."""

    lines: list[str]
    head: int | None = None  # None: all or nothing


def _table(header: list[str], rows: list[list[str]], title: str) -> _Block:
    lines = [title, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return _Block(lines + ["| " + " | ".join(row) + " |" for row in rows], head=len(lines))


def verdict(drift: Drift) -> str:
    """The one line a reviewer reads first."""
    label, _, rest = drift.summary().partition(": ")
    return f"**{label.capitalize()}:** {rest}."


def _risk(flag: bool) -> str:
    return "**high**" if flag else ""


def _denied(count: int | None) -> str:
    if count is None:
        return ""
    return f"yes ({count})" if count else "no"


def _action_rows(findings) -> list[list[str]]:
    return [
        [code(a.action), escape(a.access_level or "unknown"), _risk(a.high_risk), escape(a.first_seen or ""),
         "" if a.count is None else str(a.count), _denied(a.denied), escape(a.reason)]
        for a in findings
    ]


_ACTION_HEADER = ["Action", "Access level", "Risk", "First seen", "Events", "Denied", "Why"]


def _listed(actions: list[str], shown: int = 12) -> str:
    """The first few actions of a long list; the rest is in drift.json."""
    text = ", ".join(code(a) for a in actions[:shown])
    return text + (f" and {len(actions) - shown} more" if len(actions) > shown else "")


def _identity_blocks(entry: IdentityDrift) -> list[_Block]:
    blocks = [_Block([f"### {code(entry.arn)} ({entry.status})"])]
    if entry.added:
        blocks.append(_table(_ACTION_HEADER, _action_rows(entry.added), "**Needed, not granted**"))
    if entry.uncertain:
        blocks.append(_table(_ACTION_HEADER, _action_rows(entry.uncertain),
                             "**Granted only under conditions or for some resources** (not decided)"))
    if entry.unused:
        rows = [
            [code(g.grant), escape(g.access_level or ("wildcard" if g.wildcard else "unknown")), _risk(g.high_risk),
             _listed(g.used), escape(g.reason)]
            for g in entry.unused
        ]
        blocks.append(_table(["Grant", "Access level", "Risk", "Used under it", "Note"], rows,
                             "**Granted, not used**"))
    if entry.status == "missing":
        blocks.append(_Block(["No events for this identity in the window: every grant is unused."]))
    return blocks


def _coverage(report: dict) -> _Block:
    run = report.get("run", {})
    events = run.get("events", {})
    lines = ["### Sources and coverage", ""]
    window = run.get("window", {})
    lines.append(f"- Window: {code(window.get('start'))} to {code(window.get('end'))}")
    for source in run.get("sources", []):
        facts = ", ".join(f"{escape(str(k).replace('_', ' '))} {code(v)}" for k, v in sorted(source.items())
                          if k not in ("kind", "note"))
        lines.append(f"- Source {code(source.get('kind'))}: {facts}")
    lines.append(f"- Events read: {events.get('read', 0)}, in scope: {events.get('in_scope', 0)}"
                 + "".join(f", {escape(k)}: {v}" for k, v in events.get("out_of_scope", {}).items()))
    seen = run.get("data_events", {})
    lines.append(f"- Data events: {'visible' if seen.get('visible') else 'not visible to this source'},"
                 f" {seen.get('seen', 0)} seen")
    lines.append(f"- Regions seen: {code(', '.join(run.get('regions_seen', [])) or 'none')};"
                 f" accounts seen: {code(', '.join(run.get('accounts_seen', [])) or 'none')}")
    for problem in run.get("bad_inputs", []) + run.get("gaps", []):
        lines.append(f"- Not read: {escape(problem.get('input') or problem.get('what'))}: {escape(problem.get('reason'))}")
    for arn, entry in report.get("identities", {}).items():
        skipped = sum(s["count"] for s in entry.get("skipped", []))
        unmapped = entry.get("unmapped", [])
        if skipped or unmapped:
            lines.append(f"- {code(arn)}: events that need no permission: {skipped};"
                         f" events that map to no IAM action: {sum(u['count'] for u in unmapped)}"
                         + "".join(f"; {code(u['call'])} ({u['count']}): {escape(u['reason'])}" for u in unmapped[:20]))
    lines.append(f"- IAM catalog version: {code(run.get('catalog_version'))}")
    return _Block(lines)


def _patch(drift: Drift) -> _Block:
    body = json.dumps(drift.patch, indent=2, sort_keys=True, ensure_ascii=True)
    return _Block([
        "<details><summary>JSON Patch (RFC 6902): canonical baseline to generated policies</summary>", "",
        "````json", body, "````", "", "</details>",
    ])


def _how_to_update(drift: Drift, update_hint: str | None) -> _Block:
    target = code(drift.baseline) if drift.baseline else "the baseline"
    hint = update_hint or (
        f"If the change is intended, rewrite {target}: run the same `trailpolicy generate` command with"
        f" `--baseline FILE --update-baseline` (or apply `patch.json` to the canonical baseline), review"
        " the result and commit it."
    )
    return _Block(["### Updating the baseline", "", hint])


def render_report(
    drift: Drift,
    report: dict | None = None,
    *,
    max_chars: int | None = GITHUB_COMMENT_LIMIT,
    full_report_note: str = FULL_REPORT_NOTE,
    update_hint: str | None = None,
) -> str:
    """The markdown report, at most ``max_chars`` characters (``None``: no limit).

    ``report`` is the run's ``report.json`` (sources and coverage); ``full_report_note`` is
    trusted markdown, shown when the report had to be cut, saying where the rest is.
    """
    head = [_Block(["## trailpolicy: least-privilege drift", "", verdict(drift)])]
    summary = [
        [code(arn), escape(e.status), str(len(e.added)), str(sum(a.high_risk for a in e.added)),
         str(len(e.uncertain)), str(len(e.unused))]
        for arn, e in drift.identities.items()
    ]
    body = [_table(["Identity", "Status", "Added", "High risk", "Uncertain", "Unused"], summary,
                   f"Baseline: {code(drift.baseline) if drift.baseline else 'as given'}")]
    for entry in drift.identities.values():
        if entry.status != "unchanged":
            body.extend(_identity_blocks(entry))
    if drift.patch:
        body.append(_patch(drift))
    if report:
        body.append(_coverage(report))
    tail = [_how_to_update(drift, update_hint)] if drift.drift else []
    return _fit(head, body, tail, max_chars, full_report_note)


def _text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n\n"


def _fit(head: list[_Block], body: list[_Block], tail: list[_Block], max_chars: int | None, note: str) -> str:
    """Head and tail always; body blocks in order while they fit, then a note where the rest is."""
    start = "".join(_text(b.lines) for b in head)
    end = "".join(_text(b.lines) for b in tail)
    if max_chars is None or len(start) + sum(len(_text(b.lines)) for b in body) + len(end) <= max_chars:
        return (start + "".join(_text(b.lines) for b in body) + end).rstrip("\n") + "\n"
    cut = f"> **Report truncated** to fit {max_chars:,} characters. {note}\n\n"
    room = max_chars - len(start) - len(end) - len(cut)
    if room < 0:
        raise ValueError(f"max_chars {max_chars} is too small for the report's verdict and note")
    kept: list[str] = []
    for block in body:
        text = _text(block.lines)
        if len(text) <= room:
            kept.append(text)
            room -= len(text)
            continue
        if block.head is not None:
            lines = list(block.lines[: block.head])
            for row in block.lines[block.head:]:
                if len(_text(lines + [row])) > room:
                    break
                lines.append(row)
            if len(lines) > block.head:
                kept.append(_text(lines))
        break
    return (start + "".join(kept) + cut + end).rstrip("\n") + "\n"


def render_policies(
    report: dict,
    *,
    max_chars: int | None = GITHUB_COMMENT_LIMIT,
    full_report_note: str = FULL_REPORT_NOTE,
) -> str:
    """A run without a baseline (the Action's summary and comment): which policies were written,
    at most ``max_chars`` characters (``None``: no limit), cut like ``render_report``.

    An identity whose policy grants nothing is called out: an empty policy must not read as success.
    """
    events = report["run"]["events"]
    head = [_Block(["## trailpolicy: generated policies", "",
                    f"{events['in_scope']:,} of {events['read']:,} events in scope; "
                    f"{len(report['identities'])} policies generated; no baseline to compare with."])]
    body: list[_Block] = []
    rows = [[code(arn), str(len(e["actions"])), code(e["policy_file"])] for arn, e in report["identities"].items()]
    if rows:
        table = _table(["Identity", "Actions", "Policy file"], rows, "")
        body.append(_Block(table.lines[2:], head=table.head - 2))
    notes = [f"- **No events** for {code(arn)} in the window." for arn in report["run"]["identities_without_events"]]
    notes += [f"- **Empty policy** for {code(arn)}: none of its calls needed a permission that could be mapped;"
              " `report.json` lists them and why." for arn, entry in report["identities"].items() if not entry["actions"]]
    if notes:
        body.append(_Block(notes, head=0))
    return _fit(head, body, [], max_chars, full_report_note)


def provenance(commit: str | None, run_url: str | None) -> str:
    """The PR comment's closing line: the commit it was made for and the run that made it.

    ``commit`` is a checked commit id and ``run_url`` a URL built from the runner's own variables;
    both are empty-or-trusted, and without either the line is left out.
    """
    if commit and run_url:
        text = f"Generated for commit {code(commit[:7])} by [this workflow run]({run_url})."
    elif commit:
        text = f"Generated for commit {code(commit[:7])}."
    elif run_url:
        text = f"Generated by [this workflow run]({run_url})."
    else:
        return ""
    return f"\n---\n<sub>{text}</sub>\n"


_REASON_CHARS = 2_000  # a failure's message, in the comment; the log has all of it


def render_failure(reason: str) -> str:
    """What the PR comment says when the latest run could not finish: the earlier verdict would
    otherwise stand as if it were about the latest commit."""
    return "\n".join([
        "## trailpolicy: the latest run failed", "",
        f"**The run could not finish:** {escape(reason[:_REASON_CHARS])}", "",
        "The report this comment held before was for an earlier commit and is no longer shown. "
        "Re-run the job once the cause is fixed; its log has the details.",
    ]) + "\n"
