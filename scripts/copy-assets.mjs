// After tsc: the dashboard's static files (src/admin/assets) go beside the compiled admin code (dist/admin/assets),
// so an installed or containerised tapwire serves them from dist/ without the sources.
import { cpSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const from = fileURLToPath(new URL('../src/admin/assets/', import.meta.url));
const to = fileURLToPath(new URL('../dist/admin/assets/', import.meta.url));
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
