// ids.js — trace and span ids.
//
// Contract: newTraceId() returns 32 lowercase hex chars, newSpanId() 16,
// both from crypto-random bytes and never all zeros (W3C trace context
// forbids all-zero ids). Random bytes are drawn from a pooled buffer refilled
// with crypto.randomFillSync, so an id costs a slice and a hex conversion,
// not a syscall.
import {randomFillSync} from 'node:crypto';

const POOL_SIZE = 8192;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

function take(n) {
  if (offset + n > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const start = offset;
  offset += n;
  return pool.toString('hex', start, start + n);
}

/** A new 32-hex trace id. */
export function newTraceId() {
  let id = take(16);
  while (id === ZERO_TRACE) id = take(16);
  return id;
}

/** A new 16-hex span id. */
export function newSpanId() {
  let id = take(8);
  while (id === ZERO_SPAN) id = take(8);
  return id;
}
