// SQLite schema versions: an ordered list of migrations and the schema_version table that records which
// ran. Opening applies the missing ones in one immediate transaction (two processes opening at once do
// not both migrate); reopening applies nothing. SQL kept portable to PostgreSQL: BIGINT/TEXT/INTEGER
// columns, composite primary keys, no AUTOINCREMENT, no SQLite-only types; no reserved words as names.
import type BetterSqlite3 from 'better-sqlite3';
import { StoreError } from './types.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'aggregates, field counts, examples, noise marks',
    statements: [
      `CREATE TABLE endpoint_aggregate (
        route TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        upstream TEXT NOT NULL,
        role TEXT NOT NULL,
        exchanges BIGINT NOT NULL,
        compared BIGINT NOT NULL,
        differing BIGINT NOT NULL,
        errors_5xx BIGINT NOT NULL,
        failed BIGINT NOT NULL,
        latency TEXT NOT NULL,
        first_at BIGINT NOT NULL,
        last_at BIGINT NOT NULL,
        PRIMARY KEY (route, endpoint, upstream, role)
      )`,
      `CREATE INDEX endpoint_aggregate_last_at ON endpoint_aggregate (last_at)`,
      `CREATE TABLE endpoint_field (
        route TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        upstream TEXT NOT NULL,
        role TEXT NOT NULL,
        field TEXT NOT NULL,
        count BIGINT NOT NULL,
        PRIMARY KEY (route, endpoint, upstream, role, field)
      )`,
      `CREATE TABLE diff_example (
        route TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        upstream TEXT NOT NULL,
        field TEXT NOT NULL,
        slot INTEGER NOT NULL,
        role TEXT NOT NULL,
        trial_id TEXT NOT NULL,
        at BIGINT NOT NULL,
        request_json TEXT NOT NULL,
        left_json TEXT NOT NULL,
        right_json TEXT NOT NULL,
        diffs_json TEXT NOT NULL,
        PRIMARY KEY (route, endpoint, upstream, field, slot)
      )`,
      `CREATE INDEX diff_example_at ON diff_example (at)`,
      `CREATE INDEX diff_example_endpoint_at ON diff_example (endpoint, at)`,
      `CREATE TABLE noise_mark (
        route TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        field TEXT NOT NULL,
        at BIGINT NOT NULL,
        source TEXT NOT NULL,
        PRIMARY KEY (route, endpoint, field)
      )`,
    ],
  },
  {
    version: 2,
    name: 'findings',
    statements: [
      `CREATE TABLE finding (
        id TEXT NOT NULL PRIMARY KEY,
        detector TEXT NOT NULL,
        finding_key TEXT NOT NULL,
        severity TEXT NOT NULL,
        title TEXT NOT NULL,
        state TEXT NOT NULL,
        first_seen BIGINT NOT NULL,
        last_seen BIGINT NOT NULL,
        signal_count BIGINT NOT NULL,
        detail_json TEXT NOT NULL,
        evidence_json TEXT NOT NULL,
        resolved_at BIGINT
      )`,
      `CREATE INDEX finding_state_last_seen ON finding (state, last_seen)`,
      `CREATE INDEX finding_last_seen ON finding (last_seen)`,
    ],
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Applies the migrations `db` lacks; returns the versions before and after. Refuses a newer schema. */
export function migrate(db: BetterSqlite3.Database, now: number = Date.now()): { from: number; to: number } {
  const run = db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_version (
      version INTEGER NOT NULL PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at BIGINT NOT NULL
    )`);
    const row = db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null };
    const from = row.v ?? 0;
    if (from > SCHEMA_VERSION) {
      throw new StoreError('schema', `the store's schema version is ${from}, newer than this tapwire knows (${SCHEMA_VERSION}): upgrade tapwire or use another file`);
    }
    const record = db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of MIGRATIONS) {
      if (m.version <= from) continue;
      for (const sql of m.statements) db.exec(sql);
      record.run(m.version, m.name, now);
    }
    return { from, to: SCHEMA_VERSION };
  });
  return run.immediate();
}
