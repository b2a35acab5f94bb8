#!/usr/bin/env node
// The published entry: runs the compiled CLI (npm run build), or the sources through tsx in a checkout.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const built = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (existsSync(built)) {
  await import(pathToFileURL(built).href);
} else {
  await import('tsx');
  await import(pathToFileURL(fileURLToPath(new URL('../src/cli/main.ts', import.meta.url))).href);
}
