/* relaxed-main.c: the engine's main() for the relaxed-SIMD builds, compiled by emscripten's own clang 14.
 *
 * clang 19 (which compiles everything else of those builds) names a C `int main(int argc, char **argv)`
 * `__main_argc_argv` on every wasm target, and emscripten 3.1.6's runtime (its crt and JS glue) only knows
 * `main`: this is that `main`, passing straight through. clang 14 keeps the name `main` for emscripten. */
int __main_argc_argv(int argc, char **argv);
int main(int argc, char **argv) { return __main_argc_argv(argc, argv); }
