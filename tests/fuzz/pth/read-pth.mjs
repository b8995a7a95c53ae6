#!/usr/bin/env node
// read-pth.mjs FILE: web/pth.js on one file, as the page runs it (tests/test_hostile_files.py).
// Exit 0: converted (prints the safetensors size); 2: refused (the one-line message on stderr);
// 3: pth.js failed in a way of its own making (an Error with a cause: a bug).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const { pthToSafetensors } = await import(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../web/pth.js'));
try {
  console.log(`${pthToSafetensors(new Uint8Array(fs.readFileSync(process.argv[2]))).length} bytes`);
} catch (e) {
  console.error(e.message);
  process.exit(e.cause === undefined ? 2 : 3);
}
