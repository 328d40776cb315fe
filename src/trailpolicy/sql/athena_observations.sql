-- What each identity did in one window, aggregated by Athena: one row per distinct
-- (identity, session issuer, account, region, call, error code, data event, role parameters)
-- with its count and first/last time, so the rows that come back grow with distinct calls, never
-- with events.
--
-- Runs on the standard CloudTrail table: the one the CloudTrail console's "Create Athena table"
-- makes, or the partition-projected one from the Athena documentation
-- (https://docs.aws.amazon.com/athena/latest/ug/create-cloudtrail-table-partition-projection.html).
--
-- Values: every :name below is sent as an Athena execution parameter (a positional ?, in the
-- order the names appear), never spliced into the text. Text: trailpolicy inserts only the
-- table (database and table names checked against [A-Za-z0-9_-] and double-quoted) and fixed
-- fragments from the end of this file, chosen by the table's columns as the Glue Data Catalog
-- lists them: one per partition column it has, so Athena reads only the partitions of the
-- window, and the data-event test its CloudTrail columns allow (tables differ: older ones have
-- neither managementevent nor eventcategory).
--
-- Columns, as trailpolicy reads them:
--   identity_arn, identity_type, session_issuer_arn  who made the call (userIdentity)
--   account, region                                  where it was recorded
--   event_source, event_name, event_type, error_code what the call was and how it ended
--   data_event                                       true for data (and other non-management) events
--   role_parameters                                  the request parameters that can carry a
--       passed role (keys naming a role, an instance profile, credentials or a permission), as a JSON array
--       of one-key objects; trailpolicy's PassRole inference reads the role out of it, exactly as
--       it does from a whole requestParameters
--   events, first_seen, last_seen                    the aggregate

-- name: observations
SELECT
    useridentity.arn AS identity_arn,
    useridentity.type AS identity_type,
    useridentity.sessioncontext.sessionissuer.arn AS session_issuer_arn,
    recipientaccountid AS account,
    awsregion AS region,
    eventsource AS event_source,
    eventname AS event_name,
    eventtype AS event_type,
    errorcode AS error_code,
    {data_event} AS data_event,
    '[{' || nullif(array_join(array_sort(array_distinct(regexp_extract_all(
        requestparameters,
        '(?i)"[a-z0-9_]*(?:role|instanceprofile|credentials|permission)[a-z0-9_]*"\s*:\s*(?:"(?:[^"\\]|\\.)*"|\[[^\[\]{}]*\]|\{[^{}]*\})'
    ))), '}, {'), '') || '}]' AS role_parameters,
    count(*) AS events,
    min(eventtime) AS first_seen,
    max(eventtime) AS last_seen
FROM {table}
WHERE eventtime >= :start_time AND eventtime <= :end_time
    AND (:all_regions OR contains(split(:regions, ','), awsregion))
    AND (:all_accounts OR contains(split(:accounts, ','), recipientaccountid))
    -- A superset of the identities asked for, by lower-cased name (user, role, session's role,
    -- federated user, 'root'); trailpolicy then matches each row exactly, as for log files.
    AND (:all_identities
        OR contains(split(:identity_names, '|'), lower(regexp_extract(useridentity.arn, '[^/:]+$')))
        OR contains(split(:identity_names, '|'), lower(regexp_extract(useridentity.arn, 'assumed-role/([^/]+)/', 1)))
        OR contains(split(:identity_names, '|'), lower(regexp_extract(useridentity.sessioncontext.sessionissuer.arn, '[^/]+$'))))
    {partitions}
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11

-- name: partition timestamp
    AND "timestamp" >= :first_day AND "timestamp" <= :last_day

-- name: partition year month day
    AND concat(year, '/', month, '/', day) >= :first_day AND concat(year, '/', month, '/', day) <= :last_day

-- name: partition region
    AND (:all_regions OR contains(split(:regions, ','), region))

-- name: partition account
    AND (:all_accounts OR contains(split(:accounts, ','), account))

-- As the log-file source decides it: a record whose managementEvent is false (BOOLEAN or STRING).
-- name: data event managementevent
coalesce(CAST(managementevent AS varchar), 'true') = 'false'

-- name: data event eventcategory
coalesce(eventcategory, 'Management') <> 'Management'

-- name: data event none
false
