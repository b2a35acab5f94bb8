// The SQLite store: the shared Store contract (file and :memory:), reopening, migrations, file modes,
// open errors that name the path, and two connections merging into one file.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS, SCHEMA_VERSION } from '../src/store/migrations.ts';
import { openStore } from '../src/store/open.ts';
import { StoreError } from '../src/store/types.ts';
import { batch, delta, example, finding, hist, percentiles, storeContract } from './store/contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'tapwire-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(dir, `s${++n}.db`);

storeContract('sqlite file', () => openStore(`sqlite:${fresh()}`));
storeContract('sqlite :memory:', () => openStore('sqlite::memory:'));
storeContract('sqlite file, yielding after every key', () => openStore(`sqlite:${fresh()}`, { sliceMs: 0 }));

const mode = (p: string) => statSync(p).mode & 0o777;

void describe('sqlite store', () => {
  void it('keeps everything across close and reopen, and migrates only once', async () => {
    const path = fresh();
    const s1 = await openStore(`sqlite:${path}`);
    const ex = example({ trialId: 'kept' });
    await s1.write(batch(100, [delta({ exchanges: 3, fields: { f: 2 }, latency: hist([5, 50, 500]) })], [ex]));
    await s1.markNoise({ route: 'users', endpoint: '*', field: 'header.date', at: 1, source: 'config' });
    const rows = await s1.aggregates();
    await s1.close();

    for (let i = 0; i < 3; i++) {
      const s = await openStore(`sqlite:${path}`);
      assert.deepEqual(await s.aggregates(), rows);
      assert.deepEqual(await s.examples({ endpoint: ex.endpoint }), [ex]);
      assert.equal((await s.noiseMarks()).length, 1);
      await s.close();
    }
    // and sums continue after a reopen
    const s2 = await openStore(`sqlite:${path}`);
    await s2.write(batch(200, [delta({ exchanges: 1, fields: { f: 1 }, latency: hist([7]) })]));
    const [r] = await s2.aggregates();
    assert.deepEqual([r!.exchanges, r!.fields, r!.firstAt, r!.lastAt], [4, { f: 3 }, 100, 200]);
    assert.deepEqual(percentiles(r!.latency), percentiles(hist([5, 50, 500, 7])));
    await s2.close();

    const db = new Database(path, { readonly: true });
    const versions = db.prepare('SELECT version FROM schema_version ORDER BY version').all() as { version: number }[];
    assert.deepEqual(
      versions.map((v) => v.version),
      MIGRATIONS.map((m) => m.version),
    );
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
  });

  void it('keeps findings across close and reopen', async () => {
    const path = fresh();
    const s1 = await openStore(`sqlite:${path}`);
    const open = finding({ id: 'f-open' });
    const resolved = finding({ id: 'f-resolved', state: 'resolved', detector: 'scan', lastSeen: 2_000, resolvedAt: 62_000, evidence: [] });
    await s1.writeFindings([open, resolved]);
    await s1.close();
    const s2 = await openStore(`sqlite:${path}`);
    assert.deepEqual(await s2.findings(), [resolved, open]);
    assert.deepEqual(await s2.finding('f-open'), open);
    assert.equal((await s2.size()).findings, 2);
    await s2.close();
  });

  void it('upgrades a schema-1 database: its rows stay, the finding table is added', async () => {
    const path = fresh();
    const db = new Database(path);
    db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    for (const sql of MIGRATIONS[0]!.statements) db.exec(sql);
    db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (1, ?, 0)').run(MIGRATIONS[0]!.name);
    db.prepare('INSERT INTO noise_mark (route, endpoint, field, at, source) VALUES (?, ?, ?, ?, ?)').run('users', '*', 'header.date', 1, 'config');
    db.close();
    const s = await openStore(`sqlite:${path}`);
    assert.equal((await s.noiseMarks()).length, 1);
    assert.deepEqual(await s.findings(), []);
    await s.writeFindings([finding()]);
    assert.equal((await s.findings()).length, 1);
    await s.close();
    const check = new Database(path, { readonly: true });
    const versions = check.prepare('SELECT version FROM schema_version ORDER BY version').all() as { version: number }[];
    assert.deepEqual(
      versions.map((v) => v.version),
      MIGRATIONS.map((m) => m.version),
    );
    const indexes = check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'finding' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[];
    assert.deepEqual(
      indexes.map((i) => i.name),
      ['finding_last_seen', 'finding_state_last_seen'],
    );
    check.close();
  });

  void it('creates the database, its WAL and shared-memory files readable by the owner only', async () => {
    const path = fresh();
    const s = await openStore(`sqlite:${path}`);
    await s.write(batch(1, [delta({ exchanges: 1 })], [example()]));
    assert.equal(mode(path), 0o600);
    assert.ok(existsSync(`${path}-wal`), 'WAL mode keeps a -wal file while open');
    assert.equal(mode(`${path}-wal`), 0o600);
    assert.equal(mode(`${path}-shm`), 0o600);
    const size = await s.size();
    assert.ok(size.bytes !== undefined && size.bytes > 0);
    await s.close();
  });

  void it('says which path it cannot open, and why', async () => {
    const missing = join(dir, 'no-such-dir', 'x.db');
    await assert.rejects(openStore(`sqlite:${missing}`), (e: unknown) => {
      assert.ok(e instanceof StoreError);
      assert.equal(e.reason, 'open');
      assert.equal(e.code, 'TW_ERR_STORE');
      assert.ok(e.message.includes(missing), e.message);
      assert.match(e.message, /does not exist/);
      return true;
    });

    const garbage = join(dir, 'garbage.db');
    writeFileSync(garbage, 'this is not a database, just some text that is long enough '.repeat(100));
    await assert.rejects(openStore(`sqlite:${garbage}`), (e: unknown) => {
      assert.ok(e instanceof StoreError);
      assert.ok(e.message.includes(garbage), e.message);
      assert.match(e.message, /not a SQLite database/);
      return true;
    });

    const aDir = join(dir, 'a-directory.db');
    mkdirSync(aDir);
    await assert.rejects(openStore(`sqlite:${aDir}`), (e: unknown) => e instanceof StoreError && e.message.includes(aDir));

    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked');
      mkdirSync(locked);
      chmodSync(locked, 0o500);
      await assert.rejects(openStore(`sqlite:${join(locked, 'x.db')}`), (e: unknown) => e instanceof StoreError && e.message.includes(locked) && /permission/i.test(e.message));
      chmodSync(locked, 0o700);
    }
  });

  void it('refuses a database written by a newer tapwire', async () => {
    const path = fresh();
    const s = await openStore(`sqlite:${path}`);
    await s.close();
    const db = new Database(path);
    db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(SCHEMA_VERSION + 1, 'from the future', 0);
    db.close();
    await assert.rejects(openStore(`sqlite:${path}`), (e: unknown) => {
      assert.ok(e instanceof StoreError);
      assert.equal(e.reason, 'schema');
      assert.ok(e.message.includes(path));
      assert.match(e.message, new RegExp(`schema version is ${SCHEMA_VERSION + 1}`));
      return true;
    });
  });

  void it('rolls the whole batch back when the database fails half-way through it', async () => {
    const path = fresh();
    const s = await openStore(`sqlite:${path}`);
    await s.write(batch(100, [delta({ exchanges: 1, fields: { f: 1 }, latency: hist([10]) })]));
    const before = await s.aggregates();
    // a trigger stands in for a disk error: the batch is valid, the last statement of it fails
    const db = new Database(path);
    db.exec(`CREATE TRIGGER boom BEFORE INSERT ON diff_example WHEN NEW.trial_id = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END`);
    db.close();
    const b = batch(200, [delta({ exchanges: 5, fields: { f: 1, g: 1 }, latency: hist([20]) }), delta({ endpoint: 'GET /new', exchanges: 1 })], [example({ slot: 0 }), example({ slot: 1, trialId: 'boom' })]);
    await assert.rejects(s.write(b), /boom/);
    assert.deepEqual(await s.aggregates(), before);
    assert.equal((await s.size()).examples, 0);
    await s.close();
  });

  void it('merges correctly when two connections (two processes) write the same rows at once', async () => {
    const path = fresh();
    // sliceMs 0: each write yields between reading and committing, so the two interleave
    const a = await openStore(`sqlite:${path}`, { sliceMs: 0 });
    const b = await openStore(`sqlite:${path}`, { sliceMs: 0 });
    const all: number[] = [];
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      const values = [100 + i, 10_000 + i * 7];
      all.push(...values);
      const keys = ['GET /a', 'GET /b', 'GET /c'].map((endpoint) => delta({ endpoint, exchanges: 1, fields: { f: 1 }, latency: hist(values) }));
      writes.push((i % 2 ? a : b).write(batch(i + 1, keys)));
    }
    await Promise.all(writes);
    const rows = await a.aggregates();
    assert.equal(rows.length, 3);
    for (const r of rows) {
      assert.deepEqual([r.exchanges, r.fields, r.firstAt, r.lastAt], [20, { f: 20 }, 1, 20]);
      assert.deepEqual(percentiles(r.latency), percentiles(hist(all)));
    }
    await a.close();
    await b.close();
  });
});
