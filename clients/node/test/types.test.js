// index.d.ts type-checks against a small sample (test/types/sample.ts) with
// the typescript dev dependency; skipped when it is not installed.
import test from 'node:test';
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = path.join(root, 'node_modules', '.bin', 'tsc');

test('index.d.ts type-checks (tsc --noEmit)', {skip: fs.existsSync(tsc) ? false : 'typescript not installed', timeout: 120000}, () => {
  const r = spawnSync(tsc, ['--noEmit', '-p', path.join('test', 'types')], {cwd: root, encoding: 'utf8'});
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
});
