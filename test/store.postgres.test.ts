// The PostgreSQL store against a real PostgreSQL this file starts (a throwaway cluster): the shared Store
// contract, migrations (once, concurrently, a newer schema refused), byte-order collation, open errors that
// never show the password, a failing statement rolling the whole flush back, and several connections
// (standing for several processes) writing the same keys at once with exact sums and merged histograms.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { MIGRATIONS, SCHEMA_VERSION } from '../src/store/migrations.ts';
import { openStore } from '../src/store/open.ts';
import { StoreError, type Store } from '../src/store/types.ts';
import { batch, delta, example, hist, percentiles, storeContract } from './store/contract.ts';
import { pgUnavailable, startPgCluster, type PgCluster } from './helpers/pg.ts';

const skip = pgUnavailable();
let cluster: PgCluster | undefined;
let n = 0;
/** a fresh database on the cluster */
const fresh = async (): Promise<string> => cluster!.createDatabase(`store_${++n}`);

if (skip) {
  void it('PostgreSQL store tests', { skip }, () => undefined);
} else {
  before(async () => {
    cluster = await startPgCluster();
  });
  after(() => cluster?.stop());

  storeContract('postgres', async () => openStore(await fresh()));
  storeContract('postgres, yielding after every key', async () => openStore(await fresh(), { sliceMs: 0 }));

  void describe('postgres store', () => {
    const query = async <T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        return (await c.query<T>(sql, params)).rows;
      } finally {
        await c.end();
      }
    };

    void it('migrates once, even when several processes open the same database at once, and keeps rows across reopen', async () => {
      const url = await fresh();
      const stores = await Promise.all(Array.from({ length: 5 }, () => openStore(url)));
      await stores[0]!.write(batch(100, [delta({ exchanges: 3, fields: { f: 2 }, latency: hist([5, 50, 500]) })], [example()]));
      const rows = await stores[0]!.aggregates();
      for (const s of stores) await s.close();
      const again = await openStore(url);
      assert.deepEqual(await again.aggregates(), rows);
      await again.close();
      const versions = await query<{ version: number }>(url, 'SELECT version FROM schema_version ORDER BY version');
      assert.deepEqual(
        versions.map((v) => v.version),
        MIGRATIONS.map((m) => m.version),
      );
    });

    void it('orders text by its UTF-8 bytes even on a database whose default collation is not C', async () => {
      const name = `store_locale_${++n}`;
      await query(cluster!.url('postgres'), `CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'`).catch(
        // C.UTF-8 may be missing from the server's locales: the default is then tested as is
        () => query(cluster!.url('postgres'), `CREATE DATABASE ${name}`),
      );
      const s = await openStore(cluster!.url(name));
      try {
        const endpoints = ['GET /b', 'GET /B', 'GET /a', 'GET /é', 'GET /z', 'GET /😀', 'GET /\uffff', 'GET /_'];
        await s.write(batch(1, endpoints.map((endpoint) => delta({ endpoint, exchanges: 1 }))));
        const got = (await s.aggregates()).map((r) => r.endpoint);
        const bytewise = [...endpoints].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        assert.deepEqual(got, bytewise);
        const collation = await query<{ c: string }>(cluster!.url(name), "SELECT collation_name AS c FROM information_schema.columns WHERE table_name = 'endpoint_aggregate' AND column_name = 'endpoint'");
        assert.equal(collation[0]?.c, 'C');
      } finally {
        await s.close();
      }
    });

    void it('refuses a database written by a newer tapwire', async () => {
      const url = await fresh();
      await (await openStore(url)).close();
      await query(url, 'INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, 0)', [SCHEMA_VERSION + 1, 'from the future']);
      await assert.rejects(openStore(url), (e: unknown) => {
        assert.ok(e instanceof StoreError);
        assert.equal(e.reason, 'schema');
        assert.match(e.message, new RegExp(`schema version is ${SCHEMA_VERSION + 1}`));
        return true;
      });
    });

    void it('says which server it cannot reach, never with the password', async () => {
      const url = `postgres://tapwire:hunter2-secret@127.0.0.1:${cluster!.port}/no_such_database`;
      await assert.rejects(openStore(url), (e: unknown) => {
        assert.ok(e instanceof StoreError);
        assert.equal(e.reason, 'open');
        assert.equal(e.code, 'TW_ERR_STORE');
        assert.match(e.message, /127\.0\.0\.1/);
        assert.match(e.message, /no_such_database/);
        assert.doesNotMatch(e.message, /hunter2/);
        return true;
      });
      // nothing listens there
      const closed = cluster!.url('x').replace(`:${cluster!.port}/`, ':1/');
      await assert.rejects(openStore(closed), (e: unknown) => e instanceof StoreError && e.reason === 'open' && /ECONNREFUSED/.test(e.message));
    });

    void it('takes its pool size from pool_max in the URL and does not pass it on to the server', async () => {
      const url = await fresh();
      const s = await openStore(`${url}?pool_max=2&application_name=tw-pool-test`);
      const busy = Array.from({ length: 6 }, () => s.size());
      const seen = await query<{ n: number }>(url, "SELECT COUNT(*)::int AS n FROM pg_stat_activity WHERE application_name = 'tw-pool-test'");
      await Promise.all(busy);
      assert.ok((seen[0]?.n ?? 0) <= 2, `connections: ${seen[0]?.n}`);
      await s.close();
    });

    void it('rolls the whole flush back when a statement fails half-way through it', async () => {
      const url = await fresh();
      const s = await openStore(url);
      await s.write(batch(100, [delta({ exchanges: 1, fields: { f: 1 }, latency: hist([10]) })]));
      const before = await s.aggregates();
      // a trigger stands in for a failing disk: the batch is valid, its last statement fails
      await query(url, `CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.trial_id = 'boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$`);
      await query(url, 'CREATE TRIGGER boom BEFORE INSERT ON diff_example FOR EACH ROW EXECUTE FUNCTION boom()');
      const b = batch(200, [delta({ exchanges: 5, fields: { f: 1, g: 1 }, latency: hist([20]) }), delta({ endpoint: 'GET /new', exchanges: 1 })], [example({ slot: 0 }), example({ slot: 1, trialId: 'boom' })]);
      await assert.rejects(s.write(b), /boom/);
      assert.deepEqual(await s.aggregates(), before);
      assert.equal((await s.size()).examples, 0);
      await s.close();
    });

    void it('refuses U+0000 in a key before writing anything (PostgreSQL text cannot hold it)', async () => {
      const s = await openStore(await fresh());
      await assert.rejects(s.write(batch(1, [delta({ exchanges: 1 }), delta({ fields: { 'a\0b': 1 } })])), (e: unknown) => e instanceof StoreError && e.reason === 'invalid_batch');
      assert.deepEqual(await s.aggregates(), []);
      await s.close();
    });

    void it('sums and merges exactly when several stores (several processes) write the same keys at once', async () => {
      const url = await fresh();
      // sliceMs 0: every write yields between its optimistic merge and its transaction, so writers overlap
      const stores: Store[] = await Promise.all(Array.from({ length: 4 }, () => openStore(url, { sliceMs: 0 })));
      const all: number[] = [];
      const writes: Promise<void>[] = [];
      const endpoints = ['GET /a', 'GET /b', 'GET /c', 'GET /d'];
      for (let i = 0; i < 40; i++) {
        const values = [100 + i, 10_000 + i * 7, 1_000_000 + i];
        all.push(...values);
        // each writer sends its keys in another order: the store sorts them, so no deadlock
        const order = i % 2 ? [...endpoints].reverse() : endpoints;
        const keys = order.map((endpoint) => delta({ endpoint, exchanges: 1, compared: 1, differing: i % 2, fields: { f: 1, [`g${i % 3}`]: 1 }, latency: hist(values) }));
        writes.push(stores[i % stores.length]!.write(batch(i + 1, keys, [example({ endpoint: order[0]!, slot: i % 5, trialId: `t${i}`, at: i })])));
      }
      await Promise.all(writes);
      const rows = await stores[0]!.aggregates();
      assert.equal(rows.length, endpoints.length);
      for (const r of rows) {
        assert.deepEqual([r.exchanges, r.compared, r.differing, r.fields, r.firstAt, r.lastAt], [40, 40, 20, { f: 40, g0: 14, g1: 13, g2: 13 }, 1, 40]);
        assert.deepEqual(percentiles(r.latency), percentiles(hist(all)));
      }
      for (const s of stores) await s.close();
    });
  });
}
