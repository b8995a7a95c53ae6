/* fuzz_model.c: libFuzzer target for gc_model_load (safetensors parsing and ResNet-18 checks).
 *
 *   scripts/fuzz model 60        (or by hand:) clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -I src \
 *         tests/fuzz/fuzz_model.c src/model.c src/safetensors.c -lm -o fuzz_model
 *   ./fuzz_model -max_total_time=60 CORPUS_DIR
 */
#include <stdio.h>
#include <string.h>

#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gc_model m;
  char err[128];
  if (gc_model_load(&m, data, size, err, sizeof err) == 0) {
    gc_model_free(&m);
    return 0;
  }
  /* A failure must leave a non-empty one-line message and nothing to free. */
  if (!err[0] || strchr(err, '\n') || m.fc_w || m.conv1.w) {
    fprintf(stderr, "bad failure: \"%s\"\n", err);
    __builtin_trap();
  }
  return 0;
}
