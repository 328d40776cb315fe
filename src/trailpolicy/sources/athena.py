"""CloudTrail through Athena: ``athena://<database>.<table>?workgroup=..&output=s3://..``.

For organization-scale windows the events stay in S3 and Athena does the reading: one query
(``sql/athena_observations.sql``) filters by time, region, account and identity and aggregates to
distinct calls, so what comes back is a few rows per identity and call however many events the
window holds. Each row becomes an ``Observation``; who a row counts for is decided by the same
``IdentityMatcher`` as for log files, and passed roles by the same ``mapping.passed_roles``.

Values reach Athena as execution parameters (``?`` placeholders), each also written as a checked
SQL literal because Athena takes parameter values as literals. The table name is the one piece of
user input in the SQL text: it must match ``[A-Za-z0-9_-]+`` and is double-quoted.

Options (after ``?``): ``workgroup`` (default ``primary``), ``output`` (query result location,
``s3://...``; optional when the workgroup sets one), ``region`` (Athena's region; default the session's), ``account`` (narrow to the accounts that
recorded the events; repeatable). The table's partition and data-event columns are read from the
Glue Data Catalog (``glue:GetTable``, which querying the table needs anyway).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources

import orjson

from .. import mapping
from ..aws import Sessions
from ..errors import SourceError, UsageError
from ..events import CallKey, Observation, Principal, is_denied, parse_time
from ..identity import IdentityMatcher
from ..query import Query
from ..tally import NO_IDENTITY, OTHER_IDENTITY, Tally
from .failures import aws_call
from .layout import days
from .location import parse_location

OPTIONS = frozenset({"workgroup", "output", "region", "account"})
IDENTIFIER = re.compile(r"^[A-Za-z0-9_-]{1,255}\Z")
IAM_NAME = re.compile(r"^[\w+=,.@-]{1,128}\Z")
# Partition columns the SQL file has a fragment for; ``year month day`` go together.
PARTITION_FRAGMENTS = {
    ("timestamp",): "partition timestamp",
    ("year", "month", "day"): "partition year month day",
    ("region",): "partition region",
    ("account",): "partition account",
}
# How to tell a data event, by the first of these columns the table has.
DATA_EVENT_COLUMNS = ("managementevent", "eventcategory")
_PLACEHOLDER = re.compile(r"(?<=[\s(,]):([a-z_]+)")
POLL_FIRST, POLL_MAX = 0.2, 5.0


@cache
def sql_sections() -> dict[str, str]:
    """The named sections of ``athena_observations.sql`` (``-- name: ...`` starts one)."""
    text = resources.files("trailpolicy").joinpath("sql/athena_observations.sql").read_text(encoding="utf-8")
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("-- name: "):
            current = sections.setdefault(line[len("-- name: "):].strip(), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines).strip("\n") for name, lines in sections.items()}


@dataclass(frozen=True)
class Statement:
    """The query text with ``?`` placeholders and the parameter names in placeholder order."""

    text: str
    names: tuple[str, ...]
    partitions: tuple[str, ...]
    data_event_column: str | None


def statement(table: str, columns: tuple[str, ...], partition_columns: tuple[str, ...]) -> Statement:
    """The observations query for ``table`` (already quoted), given its columns and partition
    columns: pruned by the partitions it has, data events told apart as its columns allow."""
    sections = sql_sections()
    present = {c.lower() for c in partition_columns}
    fragments, used = [], []
    for names, section in PARTITION_FRAGMENTS.items():
        if present.issuperset(names):
            fragments.append(sections[section].strip())
            used.extend(names)
    have = {c.lower() for c in columns}
    data_column = next((c for c in DATA_EVENT_COLUMNS if c in have), None)
    text = (sections["observations"]
            .replace("{table}", table)
            .replace("{data_event}", sections[f"data event {data_column or 'none'}"].strip())
            .replace("{partitions}", "\n    ".join(fragments)))
    names = tuple(_PLACEHOLDER.findall(text))
    return Statement(_PLACEHOLDER.sub("?", text), names, tuple(used), data_column)


def parameter_values(query: Query, accounts: tuple[str, ...]) -> dict[str, object]:
    """The value of every ``:name`` in the SQL for this query (plain Python values)."""
    names = []
    for spec in query.identities:
        name = "root" if spec.kind == "root" else spec.name.lower()
        if not IAM_NAME.match(name):
            raise UsageError(f"--identity {spec.arn}: {name!r} is not an IAM name")
        names.append(name)
    wanted = days(query)
    # eventtime is text with whole seconds ('2024-05-01T12:00:00Z'): round the window inwards so
    # that comparing text gives the same answer as comparing times.
    start = query.start if not query.start.microsecond else query.start.replace(microsecond=0) + timedelta(seconds=1)
    return {
        "start_time": _utc_text(start),
        "end_time": _utc_text(query.end.replace(microsecond=0)),
        "first_day": f"{wanted[0]:%Y/%m/%d}",
        "last_day": f"{wanted[-1]:%Y/%m/%d}",
        "all_regions": not query.regions,
        "regions": ",".join(query.regions),
        "all_accounts": not accounts,
        "accounts": ",".join(accounts),
        "all_identities": not names,
        "identity_names": "|".join(dict.fromkeys(names)),
    }


def _utc_text(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def literal(value: object) -> str:
    """An Athena execution parameter, which Athena takes as a SQL literal: ``true``/``false``, or
    text in single quotes with quotes doubled (the only escape in a Trino string literal). The
    values are validated before they get here (regions, 12-digit accounts, IAM names, times)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if _CONTROL.search(text):
        raise UsageError(f"refusing to send {text!r} to Athena: control characters")
    return "'" + text.replace("'", "''") + "'"


def observations_from_rows(rows, query: Query, tally: Tally) -> int:
    """Fold result rows (dicts by column name, values as text or None) into ``tally``.

    Each row is one aggregate; it counts for the identities ``IdentityMatcher`` says, exactly as
    each of its events would have when read from a log file. Returns the number of rows.
    """
    matcher = IdentityMatcher(query.identities)
    asked = bool(query.identities)
    count_rows = 0
    for row in rows:
        count_rows += 1
        count = int(row["events"])
        principal = Principal(row.get("identity_type"), row.get("identity_arn"), row.get("session_issuer_arn"))
        owners = matcher.owners(principal)
        if not owners:
            tally.events_read += count
            if asked:
                tally.out_of_scope[OTHER_IDENTITY] += count
            else:
                tally.out_of_scope[NO_IDENTITY] += count
                tally.unidentified[row.get("identity_type") or "(none)"] += count
            continue
        source, name = row["event_source"], row["event_name"]
        error = row.get("error_code")
        evidence = row.get("role_parameters")
        call = CallKey(
            source,
            name,
            row.get("event_type"),
            is_denied(error),
            mapping.passed_roles(source, name, {"": orjson.loads(evidence)}) if evidence else frozenset(),
        )
        region, account = row.get("region"), row.get("account")
        for owner in owners:
            tally.add_observation(Observation(
                identity=owner,
                call=call,
                count=count,
                first_seen=parse_time(row["first_seen"]),
                last_seen=parse_time(row["last_seen"]),
                data_event=row.get("data_event") == "true",
                regions={region} if region else set(),
                accounts={account} if account else set(),
            ))
        # One event counts once, however many of the requested identities it serves.
        extra = count * (len(owners) - 1)
        tally.events_read -= extra
        tally.events_matched -= extra
    return count_rows


class AthenaSource:
    def __init__(self, spec: str, sessions: Sessions | None = None) -> None:
        location = parse_location(spec, "athena", OPTIONS)
        self.spec = spec
        database, dot, table = location.host.partition(".")
        if not dot or not IDENTIFIER.match(database) or not IDENTIFIER.match(table) or location.path:
            raise UsageError(f"--source {spec}: expected athena://DATABASE.TABLE?workgroup=NAME&output=s3://BUCKET/PREFIX/ "
                             "(names of letters, digits, _ and -)")
        self.database, self.table = database, table
        self.workgroup = location.one("workgroup", "primary")
        self.output = location.one("output")
        if self.output is not None and not self.output.startswith("s3://"):
            raise UsageError(f"--source {spec}: output= must be an s3:// location")
        self.region = location.one("region")
        self.accounts = location.accounts("account")
        self._sessions = sessions

    def collect(self, query: Query) -> Tally:
        sessions = self._sessions or Sessions()
        columns, partitions = self._table_columns(sessions)
        stmt = statement(f'"{self.database}"."{self.table}"', columns, partitions)
        values = parameter_values(query, self.accounts)
        athena = sessions.client("athena", region=self.region)
        execution_id = self._start(athena, stmt, [literal(values[n]) for n in stmt.names])
        execution = self._wait(athena, execution_id)
        tally = Tally()
        rows = observations_from_rows(self._rows(athena, execution_id), query, tally)
        wanted = days(query)
        tally.sources.append({
            "kind": "athena",
            "location": self.spec,
            "table": f"{self.database}.{self.table}",
            "workgroup": self.workgroup,
            "query_execution_id": execution_id,
            "partitions_used": list(stmt.partitions),
            "accounts": list(self.accounts) or "all",
            "regions": list(query.regions) or "all",
            "days": {"first": wanted[0].isoformat(), "last": wanted[-1].isoformat()},
            "rows": rows,
            "bytes_scanned": execution.get("Statistics", {}).get("DataScannedInBytes"),
            "data_events": True,
            "data_event_column": stmt.data_event_column,
            "note": "the table holds every event the trail recorded, data events included when the trail logs them"
                    + ("" if stmt.data_event_column else "; it has no managementevent or eventcategory column, "
                       "so data events are counted but not flagged"),
        })
        return tally

    def _table_columns(self, sessions: Sessions) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(columns, partition columns) of the table, from the Glue Data Catalog."""
        missing = {"EntityNotFoundException": f"--source {self.spec}: no table {self.database}.{self.table} in the Glue Data Catalog"}
        with aws_call(f"cannot read the columns of {self.database}.{self.table} from the Glue Data Catalog", missing):
            table = sessions.client("glue", region=self.region).get_table(DatabaseName=self.database, Name=self.table)
        found = table["Table"]
        columns = tuple(c["Name"].lower() for c in found.get("StorageDescriptor", {}).get("Columns", ()))
        return columns, tuple(key["Name"].lower() for key in found.get("PartitionKeys", ()))

    def _start(self, athena, stmt: Statement, parameters: list[str]) -> str:
        request: dict = {
            "QueryString": stmt.text,
            "QueryExecutionContext": {"Database": self.database, "Catalog": "AwsDataCatalog"},
            "WorkGroup": self.workgroup,
            "ExecutionParameters": parameters,
        }
        if self.output:
            request["ResultConfiguration"] = {"OutputLocation": self.output}
        with aws_call(f"cannot start the Athena query on {self.database}.{self.table}"):
            return athena.start_query_execution(**request)["QueryExecutionId"]

    def _wait(self, athena, execution_id: str) -> dict:
        delay = POLL_FIRST
        while True:
            with aws_call(f"cannot follow Athena query {execution_id}"):
                execution = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
            status = execution["Status"]
            if status["State"] == "SUCCEEDED":
                return execution
            if status["State"] in ("FAILED", "CANCELLED"):
                reason = status.get("StateChangeReason") or status.get("AthenaError", {}).get("ErrorMessage") or "no reason given"
                raise SourceError(f"Athena query {execution_id} {status['State'].lower()}: {reason}")
            time.sleep(delay)
            delay = min(POLL_MAX, delay * 1.5)

    def _rows(self, athena, execution_id: str):
        """Result rows as dicts, page by page (Athena's first row holds the column names)."""
        header: list[str] | None = None
        with aws_call(f"cannot read the results of Athena query {execution_id}"):
            for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=execution_id):
                for row in page["ResultSet"]["Rows"]:
                    values = [cell.get("VarCharValue") for cell in row["Data"]]
                    if header is None:
                        header = values
                        continue
                    yield dict(zip(header, values, strict=True))
