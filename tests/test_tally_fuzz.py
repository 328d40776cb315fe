"""Any JSON a log can hold: a record is counted, left out with a reason, or refused as bad — never a crash."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from trailpolicy.events import BadRecord
from trailpolicy.query import build_query
from trailpolicy.tally import Collector

from .conftest import record, session_identity

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
FIELDS = ["eventSource", "eventName", "eventTime", "awsRegion", "recipientAccountId", "eventType", "errorCode",
          "managementEvent", "requestParameters", "userIdentity"]
IDENTITY_FIELDS = ["type", "arn", "accountId", "sessionContext"]
QUERIES = [
    build_query("2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z"),
    build_query("2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z", identities=["arn:aws:iam::111122223333:role/Deployer"],
                regions=["us-east-1"]),
]


def base(n: int) -> dict:
    if n % 2:
        return record("RunInstances", time="2024-05-01T10:00:00Z", userIdentity=session_identity(),
                      requestParameters={"iamInstanceProfile": {"arn": "arn:aws:iam::111122223333:instance-profile/x"}})
    return record("CreateFunction20150331", "lambda.amazonaws.com", "2024-05-01T10:00:00Z",
                  requestParameters={"role": "arn:aws:iam::111122223333:role/fn"})


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(0, 1),
    field=st.sampled_from(FIELDS),
    identity_field=st.sampled_from(IDENTITY_FIELDS),
    value=JSON,
    nested=st.booleans(),
    query=st.sampled_from(QUERIES),
)
def test_collector_never_crashes_on_odd_fields(n, field, identity_field, value, nested, query) -> None:
    rec = base(n)
    if nested:
        rec["userIdentity"] = dict(rec["userIdentity"], **{identity_field: value})
    else:
        rec[field] = value
    collector = Collector(query)
    try:
        collector.add([base(0), rec, base(1)])
    except BadRecord as exc:
        assert str(exc).startswith("record 2: ")
        tally = collector.tally
        assert tally.events_read == 2  # counted up to and including the refused record
        assert tally.events_matched + sum(tally.out_of_scope.values()) == 1
        return
    tally = collector.tally
    assert tally.events_read == 3
    assert tally.events_matched + sum(tally.out_of_scope.values()) == 3
    assert sum(o.count for o in tally.observations.values()) >= tally.events_matched
