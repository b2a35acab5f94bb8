// The SQL of the PostgreSQL store. Batches travel as parallel arrays through unnest(), one statement per
// table per flush; counters and field counts are summed by the database (`n = t.n + excluded.n`), so any
// number of processes can upsert the same keys and the sums stay right. Rows are sent sorted by key so
// every writer takes its row locks in one global order (fields, then examples, then aggregates).

/** Upserts counters; a new row gets an empty histogram. Returns each row's current histogram digest (the row stays locked). */
export const UPSERT_AGGREGATES = `INSERT INTO endpoint_aggregate
  (route, endpoint, upstream, role, exchanges, compared, differing, errors_5xx, failed, latency, first_at, last_at)
  SELECT route, endpoint, upstream, role, exchanges, compared, differing, errors_5xx, failed, '', $10::bigint, $10::bigint
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[])
    AS t(route, endpoint, upstream, role, exchanges, compared, differing, errors_5xx, failed)
  ON CONFLICT (route, endpoint, upstream, role) DO UPDATE SET
    exchanges = endpoint_aggregate.exchanges + excluded.exchanges,
    compared = endpoint_aggregate.compared + excluded.compared,
    differing = endpoint_aggregate.differing + excluded.differing,
    errors_5xx = endpoint_aggregate.errors_5xx + excluded.errors_5xx,
    failed = endpoint_aggregate.failed + excluded.failed,
    first_at = LEAST(endpoint_aggregate.first_at, excluded.first_at),
    last_at = GREATEST(endpoint_aggregate.last_at, excluded.last_at)
  RETURNING route, endpoint, upstream, role, md5(latency) AS digest`;

/** Histograms of keys (read before the transaction, or again under the row lock when another writer changed them). */
export const SELECT_LATENCIES = `SELECT a.route, a.endpoint, a.upstream, a.role, a.latency
  FROM endpoint_aggregate a
  JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(route, endpoint, upstream, role)
    ON a.route = k.route AND a.endpoint = k.endpoint AND a.upstream = k.upstream AND a.role = k.role`;

export const UPDATE_LATENCIES = `UPDATE endpoint_aggregate a SET latency = k.latency
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS k(route, endpoint, upstream, role, latency)
  WHERE a.route = k.route AND a.endpoint = k.endpoint AND a.upstream = k.upstream AND a.role = k.role`;

export const UPSERT_FIELDS = `INSERT INTO endpoint_field (route, endpoint, upstream, role, field, count)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
  ON CONFLICT (route, endpoint, upstream, role, field) DO UPDATE SET count = endpoint_field.count + excluded.count`;

export const UPSERT_EXAMPLES = `INSERT INTO diff_example
  (route, endpoint, upstream, field, slot, role, trial_id, at, request_json, left_json, right_json, diffs_json)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::text[], $7::text[], $8::bigint[],
    $9::text[], $10::text[], $11::text[], $12::text[])
  ON CONFLICT (route, endpoint, upstream, field, slot) DO UPDATE SET
    role = excluded.role, trial_id = excluded.trial_id, at = excluded.at, request_json = excluded.request_json,
    left_json = excluded.left_json, right_json = excluded.right_json, diffs_json = excluded.diffs_json`;

export const UPSERT_FINDINGS = `INSERT INTO finding
  (id, detector, finding_key, severity, title, state, first_seen, last_seen, signal_count, detail_json, evidence_json, resolved_at)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[],
    $10::text[], $11::text[], $12::bigint[])
  ON CONFLICT (id) DO UPDATE SET
    detector = excluded.detector, finding_key = excluded.finding_key, severity = excluded.severity, title = excluded.title,
    state = excluded.state, first_seen = excluded.first_seen, last_seen = excluded.last_seen, signal_count = excluded.signal_count,
    detail_json = excluded.detail_json, evidence_json = excluded.evidence_json, resolved_at = excluded.resolved_at`;

/** Aggregates with their field counts in one statement, so both come from one snapshot. */
export function selectAggregates(whereSql: string): string {
  return `SELECT a.route, a.endpoint, a.upstream, a.role, a.exchanges, a.compared, a.differing, a.errors_5xx, a.failed, a.latency,
      a.first_at, a.last_at,
      COALESCE((SELECT json_agg(json_build_array(f.field, f.count) ORDER BY f.field) FROM endpoint_field f
        WHERE f.route = a.route AND f.endpoint = a.endpoint AND f.upstream = a.upstream AND f.role = a.role), '[]'::json) AS fields
    FROM endpoint_aggregate a ${whereSql}
    ORDER BY a.route, a.endpoint, a.upstream, a.role`;
}

export const EXAMPLE_KEY_ORDER = 'route, endpoint, upstream, field, slot';

/** Tables whose bytes `size()` reports. */
export const TABLES = ['endpoint_aggregate', 'endpoint_field', 'diff_example', 'noise_mark', 'finding'] as const;

export const SIZE = `SELECT
  (SELECT COUNT(*) FROM endpoint_aggregate) AS aggregates,
  (SELECT COUNT(*) FROM diff_example) AS examples,
  (SELECT COUNT(*) FROM noise_mark) AS noise_marks,
  (SELECT COUNT(*) FROM finding) AS findings,
  (${TABLES.map((t) => `pg_total_relation_size('${t}')`).join(' + ')}) AS bytes`;
