// ort-worker.mjs: one ONNX Runtime Web instance (wasm backend: SIMD, threads when crossOriginIsolated)
// in a module worker, numThreads as asked, on the seeded ResNet-18 exported by torch.onnx.export.
import * as ort from './ort/ort.wasm.min.mjs';

let session, input;

async function init({ threads }) {
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = new URL('./ort/', import.meta.url).href;
  const model = new Uint8Array(await (await fetch('models/seeded.onnx')).arrayBuffer());
  session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  input = new Float32Array(await (await fetch('models/input224.f32')).arrayBuffer());
  return { engine: `onnxruntime-web ${ort.env.versions ? ort.env.versions.web : ''}`, threads, crossOriginIsolated: self.crossOriginIsolated };
}

async function forward() {
  const t0 = performance.now();
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, [1, 3, 224, 224]) });
  const ms = performance.now() - t0;
  const z = out[session.outputNames[0]].data;
  let top = 0, mx = -Infinity, s = 0;
  for (let i = 0; i < z.length; i++) if (z[i] > z[top]) top = i;
  mx = z[top];
  for (let i = 0; i < z.length; i++) s += Math.exp(z[i] - mx);
  return { ms, top, p_top: 1 / s };
}

self.onmessage = async (e) => {
  const { id, cmd } = e.data;
  try {
    let result;
    if (cmd === 'init') result = await init(e.data);
    else if (cmd === 'forward') result = await forward();
    else if (cmd === 'memory') result = {};
    else throw new Error(`unknown command ${cmd}`);
    self.postMessage({ id, result });
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message || err) });
  }
};
