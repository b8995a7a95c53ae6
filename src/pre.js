// Runs before the emscripten runtime. Under Node 20, fetch() exists and this emscripten (3.1.6)
// would then fetch the .wasm by URL and fail ("Failed to parse URL"): hide it under Node so the
// runtime reads the file from disk. Elsewhere the binding is the global fetch, unchanged.
var fetch = (typeof process === 'object' && process.versions && process.versions.node)
  ? undefined : globalThis.fetch && globalThis.fetch.bind(globalThis);
