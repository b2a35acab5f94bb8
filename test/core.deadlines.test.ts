// The deadline sweeper: expiries fire once, deleted or pushed-back deadlines do not fire early.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { Deadlines } from '../src/core/deadlines.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a deadline fires once, after its time and within a few ticks', async () => {
  const d = new Deadlines(10);
  const t0 = performance.now();
  let fired: number[] = [];
  d.add(50, () => fired.push(performance.now() - t0));
  await sleep(150);
  assert.equal(fired.length, 1);
  assert.ok(fired[0]! >= 50, `fired after ${fired[0]} ms`);
  assert.equal(d.size, 0);
  fired = [];
});

test('a deleted deadline never fires', async () => {
  const d = new Deadlines(10);
  let fired = 0;
  const x = d.add(30, () => fired++);
  d.delete(x);
  await sleep(80);
  assert.equal(fired, 0);
});

test('a pushed-back deadline fires only after its new time', async () => {
  const d = new Deadlines(10);
  let firedAt = 0;
  const t0 = performance.now();
  const x = d.add(40, () => (firedAt = performance.now() - t0));
  await sleep(20);
  x.at = performance.now() + 100;
  await sleep(60);
  assert.equal(firedAt, 0, 'fired at its old time');
  await sleep(120);
  assert.ok(firedAt >= 120, `fired after ${firedAt} ms`);
});

test('one failing expiry does not stop the others', async () => {
  const d = new Deadlines(10);
  let fired = 0;
  d.add(10, () => {
    throw new Error('boom');
  });
  d.add(10, () => fired++);
  await sleep(60);
  assert.equal(fired, 1);
});
