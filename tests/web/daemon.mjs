// Starts the real spanvaultd in a temp dir with its HTTP listener on a free
// loopback port (read from its "listening" log line), for the browser test.
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export async function startDaemon(binary, extra = [], {keepDir = false} = {}) {
  if (!binary || !fs.existsSync(binary)) throw new Error(`no spanvaultd at ${binary}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svweb-'));
  const argv = ['--udp', 'off', '--http', '127.0.0.1:0', '--log-level', 'info',
    '--state-dir', path.join(dir, 'state'), '--runtime-dir', path.join(dir, 'run'), ...extra];
  const child = spawn(binary, argv, {stdio: ['ignore', 'ignore', 'pipe']});
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`spanvaultd did not listen on HTTP within 30 s:\n${log}`)), 30_000);
    child.stderr.on('data', chunk => {
      log += chunk;
      for (const line of log.split('\n')) {
        try {
          const j = JSON.parse(line);
          if (j.msg === 'listening' && j.transport === 'http') {
            clearTimeout(timer);
            resolve(`http://${j.address}`);
          }
        } catch {
          /* not a JSON line */
        }
      }
    });
    child.on('exit', code => {
      clearTimeout(timer);
      reject(new Error(`spanvaultd exited (${code}):\n${log}`));
    });
  });
  // Ready once /readyz says so.
  for (let i = 0; i < 300; ++i) {
    const ok = await fetch(`${url}/readyz`).then(r => r.ok).catch(() => false);
    if (ok) break;
    await new Promise(r => setTimeout(r, 100));
  }
  return {
    url,
    dir,
    log: () => log,
    close: () => new Promise(resolve => {
      child.removeAllListeners('exit');
      child.on('exit', () => {
        if (!keepDir) fs.rmSync(dir, {recursive: true, force: true});
        resolve();
      });
      child.kill('SIGTERM');
    }),
  };
}
