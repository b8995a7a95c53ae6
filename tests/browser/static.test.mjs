// static.test.mjs: checks that need no browser. The page names no other origin anywhere, every HTML
// file carries the strict CSP, and scripts/serve sends the right types and headers and refuses to
// leave its directory.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as h from './helpers.mjs';

const WEB_SRC = path.join(h.ROOT, 'web');
const files = fs.readdirSync(WEB_SRC, { recursive: true }).map((f) => path.join(WEB_SRC, f))
  .filter((f) => /\.(html|js|css|md|txt|json)$/.test(f));

test('web/ names no external URL', () => {
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    const m = /\b(?:https?:|wss?:)?\/\/(?!127\.0\.0\.1)[a-z0-9-]+\.[a-z0-9.-]+/i.exec(text);
    assert.equal(m, null, `${path.relative(h.ROOT, f)} mentions ${m && m[0]}`);
  }
});

test('every page has the strict Content-Security-Policy', () => {
  for (const f of files.filter((f) => f.endsWith('.html'))) {
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(fs.readFileSync(f, 'utf8'));
    assert.ok(csp, `${f}: no CSP`);
    const d = Object.fromEntries(csp[1].split(';').map((s) => s.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
    assert.deepEqual(d['default-src'], ["'self'"]);
    assert.deepEqual(d['connect-src'], ["'self'"]);
    assert.deepEqual(d['script-src'], ["'self'", "'wasm-unsafe-eval'"]);
    assert.deepEqual(d['style-src'], ["'self'"]);
    assert.ok(!csp[1].includes('unsafe-inline') && !csp[1].includes("'unsafe-eval'"));
  }
});

let dir, srv;
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-serve-'));
  fs.mkdirSync(path.join(dir, 'site', 'sub'), { recursive: true });
  for (const [n, body] of [['index.html', '<p>hi'], ['a.wasm', '\0asm'], ['m.js', '1'], ['n.mjs', '2'], ['sub/x.txt', 'x']]) {
    fs.writeFileSync(path.join(dir, 'site', n), body);
  }
  fs.writeFileSync(path.join(dir, 'secret.txt'), 'secret');
  fs.symlinkSync(path.join(dir, 'secret.txt'), path.join(dir, 'site', 'link.txt'));
  srv = await h.serve(path.join(dir, 'site'));
});
after(async () => {
  await srv?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

// A raw request (no URL normalisation on our side, unlike fetch).
function get(p, method = 'GET') {
  const u = new URL(srv.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: p, method }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('scripts/serve: MIME types and cross-origin isolation headers', async () => {
  for (const [p, type] of [['/a.wasm', 'application/wasm'], ['/m.js', 'text/javascript'], ['/n.mjs', 'text/javascript'], ['/', 'text/html'], ['/sub/x.txt', 'text/plain']]) {
    const r = await get(p);
    assert.equal(r.status, 200, p);
    assert.ok(r.headers['content-type'].startsWith(type), `${p}: ${r.headers['content-type']}`);
    assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp');
  }
  assert.equal((await get('/a.wasm', 'HEAD')).status, 200);
  assert.equal((await get('/m.js', 'POST')).status, 405);
});

test('scripts/serve: no listings, no way out of its directory', async () => {
  for (const p of ['/sub/', '/../secret.txt', '/%2e%2e/secret.txt', '/sub/..%2f..%2fsecret.txt', '/link.txt', '/%00', '/nope', '//etc/passwd', '/..\\secret.txt']) {
    const r = await get(p);
    assert.equal(r.status, 404, `${p} gave ${r.status}`);
    assert.ok(!r.body.includes('secret'), p);
  }
});
