import test from 'node:test';
import assert from 'node:assert/strict';
import {newSpanId, newTraceId} from '../src/index.js';

test('trace ids are 32 lowercase hex, span ids 16, unique and not all zero', () => {
  const seen = new Set();
  for (let i = 0; i < 20000; i++) {
    const t = newTraceId();
    const s = newSpanId();
    assert.match(t, /^[0-9a-f]{32}$/);
    assert.match(s, /^[0-9a-f]{16}$/);
    assert.notEqual(t, '0'.repeat(32));
    assert.notEqual(s, '0'.repeat(16));
    assert.ok(!seen.has(t) && !seen.has(s));
    seen.add(t);
    seen.add(s);
  }
});
