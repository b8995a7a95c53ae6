// Pre-js of the threaded engine (gradcam-engine-mt.js, gradcam-node-mt.js): how many pthread workers
// the runtime creates before main() runs / the module promise resolves
// (-sPTHREAD_POOL_SIZE=Module.gcPoolSize()). gc_create asks for its threads synchronously, so they must
// all exist up front: Module.gcThreads if the caller set it, else one per core (navigator.hardwareConcurrency,
// or os.cpus() under Node) up to 8 (ResNet-18 at 224x224 gains nothing past that), less the calling
// thread, which is pthreadpool's worker #0. At least one: this emscripten waits for "every pool worker
// loaded" before it runs, and with a pool of 0 that never happens.
Module['gcPoolSize'] = function () {
  var n = Module['gcThreads'];
  if (!n) {
    if (typeof navigator === 'object' && navigator.hardwareConcurrency) n = navigator.hardwareConcurrency;
    else if (typeof process === 'object' && process.versions && process.versions.node) n = require('os').cpus().length;
    else n = 1;
    n = Math.min(n, 8);
  }
  return Math.max(1, Math.min(n, 64) - 1);
};
