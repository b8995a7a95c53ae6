/* safetensors.h: a small, strict, generic safetensors reader (no tensor semantics).
 *
 * File layout: u64 little-endian N, N bytes of JSON header, then the data blob:
 *
 *   {"name": {"dtype": "F32", "shape": [64, 3, 7, 7], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {"key": "value", ...}}
 *
 * Offsets are relative to the blob start. gc_st_parse validates everything a reader could trip over
 * (header length vs. file size, JSON syntax, known dtype, rank <= GC_ST_MAX_DIMS, numel overflow,
 * end - begin == numel * dtype size, offsets inside the blob, duplicate names) so that callers can
 * read any tensor's bytes without further bounds checks. Tensor data is not copied: the pointers
 * point into the caller's buffer, which must outlive the gc_st_file.
 */
#ifndef GC_SAFETENSORS_H
#define GC_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define GC_ST_MAX_DIMS 8
#define GC_ST_MAX_TENSORS 65536     /* torchvision's resnet152 has 1,000 with num_batches_tracked */
#define GC_ST_MAX_HEADER 100000000  /* bytes, as the reference implementation                  */

typedef struct gc_st_tensor {
  const char *name;  /* NUL-terminated, JSON escapes decoded; owned by the gc_st_file */
  char dtype[10];    /* "F32", "F16", "I64", ... (always one of the known dtypes)    */
  size_t dtype_size; /* bytes per element                                            */
  int ndim;          /* 0 for a scalar                                               */
  uint64_t shape[GC_ST_MAX_DIMS];
  uint64_t numel;      /* product of shape (1 for a scalar)                            */
  const uint8_t *data; /* numel * dtype_size bytes inside the caller's buffer          */
} gc_st_tensor;

typedef struct gc_st_file {
  gc_st_tensor *t; /* [n], in file order                                           */
  int n;
  gc_st_tensor **by_name; /* [n] pointers into t, sorted by name (for gc_st_find)          */
  char *names;            /* storage for all names                                        */
  char head[16];          /* __metadata__["gradcam.head"] ("softmax"/"sigmoid"), or ""     */
  /* the model's preprocessing as models/convert writes it (model.c parses them), or "": */
  char mean[64], std[64];  /* "gradcam.mean", "gradcam.std": "0.5,0.5,0.5"                  */
  char size[32];           /* "gradcam.size": "224x224"                                     */
  char resize[16];         /* "gradcam.resize": "256" (Resize(256) + CenterCrop(size))      */
  char *labels;            /* "gradcam.labels": class names, one per line (malloc'd), or NULL */
} gc_st_file;

/* Returns 0, or -1 with a one-line reason in err; on failure *f is zeroed (nothing to free). */
int gc_st_parse(gc_st_file *f, const uint8_t *data, size_t size, char *err, size_t errlen);
const gc_st_tensor *gc_st_find(const gc_st_file *f, const char *name); /* NULL if absent */
void gc_st_free(gc_st_file *f);

/* snprintf into err (if err && errlen), with control characters replaced so the message is one line
 * even when it quotes a name taken from a file. */
void gc_st_errorf(char *err, size_t errlen, const char *fmt, ...);

#endif
