/* fuzz_image.c: libFuzzer target for gc_image_decode (stb_image behind our header checks) and the
 * PIL-style resize of whatever decodes.
 *
 *   scripts/fuzz image 60        (builds with clang -fsanitize=fuzzer,address,undefined, runs 60 s)
 */
#include <stdio.h>
#include <string.h>

#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gc_image img, small;
  char err[128];
  if (gc_image_decode(data, size, &img, err, sizeof err) == 0) {
    if (gc_image_resize_bilinear_aa(&img, 37, 29, &small, err, sizeof err) == 0) gc_image_free(&small);
    gc_image_free(&img);
    return 0;
  }
  /* A failure must leave a non-empty one-line message and nothing to free. */
  if (!err[0] || strchr(err, '\n') || img.rgb) {
    fprintf(stderr, "bad failure: \"%s\"\n", err);
    __builtin_trap();
  }
  return 0;
}
