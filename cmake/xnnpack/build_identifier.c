/* Upstream generates this file with scripts/generate-build-identifier.py (a hash of the sources, used to
 * validate serialized weight caches). We use no weight cache, so a fixed identifier is enough. */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

static const char gc_build_identifier[] = "gradcam-wasm:xnnpack-0.0~git20241108.4ea82e5";

const void* xnn_experimental_get_build_identifier_data(void) { return gc_build_identifier; }
size_t xnn_experimental_get_build_identifier_size(void) { return sizeof(gc_build_identifier) - 1; }
bool xnn_experimental_check_build_identifier(const void* data, size_t size) {
  return size == sizeof(gc_build_identifier) - 1 && memcmp(data, gc_build_identifier, size) == 0;
}
