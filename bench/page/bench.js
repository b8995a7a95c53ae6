// bench.js: the benchmark page. Four workers, each owning one engine and the same model and input:
//   ours-1  our engine, single-threaded build (gradcam-engine.js)
//   ours-N  our engine, threaded build (gradcam-engine-mt.js) with N threads
//   ort-1   ONNX Runtime Web, wasm (SIMD) backend, numThreads 1
//   ort-N   ONNX Runtime Web, wasm (SIMD) backend, numThreads N
// Each worker times its own call (performance.now around it), so messaging is not counted.
// bench/browser.mjs calls window.bench.setup(), then window.bench.round() once per run (the engines take
// turns inside a round, in an order that rotates from round to round), then window.bench.memory().
const q = new URLSearchParams(location.search);
const N = Number(q.get('threads') || 2);
const ENGINE = q.get('engine') || 'simd'; // our engine: simd or relaxed (gradcam-engine-relaxed*.js)

function spawn(url, type) {
  const w = new Worker(url, type ? { type } : undefined);
  let seq = 0;
  const pending = new Map();
  w.onmessage = (e) => { const p = pending.get(e.data.id); pending.delete(e.data.id); e.data.error ? p.reject(new Error(e.data.error)) : p.resolve(e.data.result); };
  w.onerror = (e) => { for (const p of pending.values()) p.reject(new Error(e.message || 'worker error')); pending.clear(); };
  return (cmd, args = {}) => new Promise((resolve, reject) => { const id = ++seq; pending.set(id, { resolve, reject }); w.postMessage({ id, cmd, ...args }); });
}

const engines = {};
window.bench = {
  crossOriginIsolated: self.crossOriginIsolated,
  async setup(which = ['ours-1', `ours-${N}`, 'ort-1', `ort-${N}`]) {
    const info = {};
    for (const name of which) {
      const [kind, t] = name.split('-');
      const call = kind === 'ours' ? spawn(`ours-worker.js`) : spawn(`ort-worker.mjs`, 'module');
      const t0 = performance.now();
      info[name] = await call('init', { threads: Number(t), engine: ENGINE });
      info[name].init_ms = performance.now() - t0;
      engines[name] = call;
    }
    return info;
  },
  async round(r = 0) {
    const names = Object.keys(engines), out = {};
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + r) % names.length];
      // a pause first: the previous engine's idle threads spin a while before they sleep
      await new Promise((resolve) => setTimeout(resolve, 150));
      out[name] = await engines[name]('forward');
    }
    return out;
  },
  async forward(name) { return engines[name]('forward'); },
  async explain(name, layer) { return engines[name]('explain', { layer }); },
  async memory() {
    const out = {};
    for (const [name, call] of Object.entries(engines)) out[name] = await call('memory');
    return out;
  },
  // Cold start of one of our engines alone (a fresh page in a fresh profile): from navigation start to
  // the first heatmap (engine script + .wasm fetched and compiled, worker pool up, model fetched and
  // loaded, forward + backward to layer4 + CAM + overlay).
  async cold(name) {
    const [, t] = name.split('-');
    const call = spawn('ours-worker.js');
    await call('init', { threads: Number(t), engine: ENGINE });
    const r = await call('explain', { layer: 'layer4', classify: true });
    return { first_heatmap_ms: performance.now(), ...r };
  },
};
document.getElementById('log').textContent = `crossOriginIsolated: ${self.crossOriginIsolated}`;
// ?cold=ours-N: measure a cold start as soon as the page runs (no round trip to the driver first).
if (q.get('cold')) window.coldResult = window.bench.cold(q.get('cold')).catch((e) => ({ error: String(e.message || e) }));
