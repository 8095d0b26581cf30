import test from 'node:test';
import assert from 'node:assert/strict';
import {resolveSocket} from '../src/index.js';

const none = () => false;
const only = (...paths) => p => paths.includes(p);

test('SPANVAULT_SOCKET wins', () => {
  assert.equal(resolveSocket({env: {SPANVAULT_SOCKET: '/x/s.sock', SPANVAULT_RUNTIME_DIR: '/r'}, uid: 1000, exists: none}), '/x/s.sock');
});

test('SPANVAULT_INGEST_UNIX_STREAM only when absolute', () => {
  assert.equal(resolveSocket({env: {SPANVAULT_INGEST_UNIX_STREAM: '/abs/in.sock'}, uid: 1000, cwd: '/app', exists: none}), '/abs/in.sock');
  assert.equal(resolveSocket({env: {SPANVAULT_INGEST_UNIX_STREAM: 'rel.sock', SPANVAULT_RUNTIME_DIR: '/rt'}, uid: 1000, exists: none}), '/rt/spans.sock');
});

test('runtime dir: env, root, XDG, ./spanvault-data/run', () => {
  assert.equal(resolveSocket({env: {SPANVAULT_RUNTIME_DIR: '/rt'}, uid: 0, exists: none}), '/rt/spans.sock');
  assert.equal(resolveSocket({env: {XDG_RUNTIME_DIR: '/run/user/1000'}, uid: 0, exists: none}), '/run/spanvault/spans.sock');
  assert.equal(resolveSocket({env: {XDG_RUNTIME_DIR: '/run/user/1000'}, uid: 1000, exists: none}), '/run/user/1000/spanvault/spans.sock');
  assert.equal(resolveSocket({env: {}, uid: 1000, cwd: '/app', exists: none}), '/app/spanvault-data/run/spans.sock');
});

test('falls back to the first existing well-known socket', () => {
  // A non-root app finds the system daemon.
  assert.equal(resolveSocket({env: {}, uid: 1000, cwd: '/app', exists: only('/run/spanvault/spans.sock')}), '/run/spanvault/spans.sock');
  assert.equal(resolveSocket({env: {XDG_RUNTIME_DIR: '/x'}, uid: 0, exists: only('/x/spanvault/spans.sock', '/app/spanvault-data/run/spans.sock'), cwd: '/app'}), '/x/spanvault/spans.sock');
  assert.equal(resolveSocket({env: {}, uid: 0, cwd: '/app', exists: only('/app/spanvault-data/run/spans.sock')}), '/app/spanvault-data/run/spans.sock');
  // The chosen one exists: no fallback.
  assert.equal(resolveSocket({env: {SPANVAULT_RUNTIME_DIR: '/rt'}, uid: 1000, exists: only('/rt/spans.sock', '/run/spanvault/spans.sock')}), '/rt/spans.sock');
  // Also an explicit SPANVAULT_SOCKET that does not exist falls back.
  assert.equal(resolveSocket({env: {SPANVAULT_SOCKET: '/gone.sock'}, uid: 1000, cwd: '/app', exists: only('/run/spanvault/spans.sock')}), '/run/spanvault/spans.sock');
});

test('with the real environment it returns a path ending in spans.sock or the env socket', () => {
  const p = resolveSocket();
  assert.equal(typeof p, 'string');
  assert.ok(p.length > 0);
});
