// `npm pack` makes a tarball that installs offline into an empty project
// (no dependencies) and imports there; skipped when npm is absent.
import test from 'node:test';
import assert from 'node:assert/strict';
import {execFileSync, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const hasNpm = spawnSync('npm', ['--version'], {encoding: 'utf8'}).status === 0;

test('npm pack → npm install ./spanvault-0.1.0.tgz → import works', {skip: hasNpm ? false : 'npm not found', timeout: 180000}, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svpack-'));
  try {
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {cwd: root, encoding: 'utf8'});
    const [info] = JSON.parse(out);
    assert.equal(info.name, 'spanvault');
    assert.equal(info.version, '0.1.0');
    const files = info.files.map(f => f.path).sort();
    for (const f of ['LICENSE', 'README.md', 'index.d.ts', 'package.json', 'src/index.js', 'src/sender.js', 'src/wrappers/openai.js']) {
      assert.ok(files.includes(f), `${f} is packed`);
    }
    assert.ok(!files.some(f => f.startsWith('test') || f.startsWith('node_modules')), 'no tests or deps packed');
    const tgz = path.join(dir, info.filename);
    const app = path.join(dir, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({name: 'app', version: '1.0.0', private: true, type: 'module'}));
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', tgz], {cwd: app, encoding: 'utf8'});
    const check = execFileSync(process.execPath, ['--input-type=module', '-e', `
      const sv = await import('spanvault');
      const names = ['init', 'traced', 'withSpan', 'startSpan', 'currentSpan', 'flush', 'stats', 'shutdown',
        'injectTraceparent', 'extractTraceparent', 'resolveSocket', 'wrapOpenAI', 'wrapAnthropic'];
      for (const n of names) if (typeof sv[n] !== 'function') throw new Error('missing ' + n);
      sv.init({socket: '/nonexistent/spans.sock'});
      sv.withSpan('x', s => s.log({input: 1}));
      console.log(JSON.stringify(sv.stats()));
    `], {cwd: app, encoding: 'utf8'});
    assert.equal(JSON.parse(check).enqueued, 1);
    const pkg = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', 'spanvault', 'package.json'), 'utf8'));
    assert.deepEqual(pkg.dependencies ?? {}, {});
    assert.equal(pkg.license, 'Apache-2.0');
  } finally {
    fs.rmSync(dir, {recursive: true, force: true});
  }
});
