// PostgreSQL schema: the same versioned migrations as SQLite (src/store/migrations.ts is the one list), each
// TEXT column given the "C" collation so ORDER BY is the byte order of the UTF-8 text on any database
// (SQLite's BINARY order, which the Store contract promises) whatever the cluster's default locale. Several
// replicas starting at once migrate one after another: a transaction-scoped advisory lock serialises them.
import type { PoolClient } from 'pg';
import { MIGRATIONS, SCHEMA_VERSION, type Migration } from './migrations.ts';
import { StoreError } from './types.ts';

/** pg_advisory_xact_lock key of tapwire's migrations (any constant; "tapwire" in ASCII). */
export const MIGRATION_LOCK = 0x746170776972;

/** A portable migration statement in PostgreSQL's words: TEXT columns compare bytewise. */
export function pgStatement(sql: string): string {
  return /^\s*CREATE TABLE/i.test(sql) ? sql.replace(/\bTEXT\b/g, 'TEXT COLLATE "C"') : sql;
}

export const PG_MIGRATIONS: readonly Migration[] = MIGRATIONS.map((m) => ({ ...m, statements: m.statements.map(pgStatement) }));

/** Applies the migrations the database lacks, in one transaction; refuses a newer schema. */
export async function migratePg(client: PoolClient, now: number = Date.now()): Promise<{ from: number; to: number }> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_version (
      version INTEGER NOT NULL PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at BIGINT NOT NULL
    )`);
    const { rows } = await client.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_version');
    const from = rows[0]?.v ?? 0;
    if (from > SCHEMA_VERSION) {
      throw new StoreError('schema', `the store's schema version is ${from}, newer than this tapwire knows (${SCHEMA_VERSION}): upgrade tapwire or use another database`);
    }
    for (const m of PG_MIGRATIONS) {
      if (m.version <= from) continue;
      for (const sql of m.statements) await client.query(sql);
      await client.query('INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, now]);
    }
    await client.query('COMMIT');
    return { from, to: SCHEMA_VERSION };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
