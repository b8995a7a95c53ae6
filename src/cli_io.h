/* cli_io.h: what the command line reads and writes: whole files, float32 .npy, PNG, labels, and its
 * one-line errors. Only for cli.c (the engine itself never touches files). */
#ifndef GC_CLI_IO_H
#define GC_CLI_IO_H

#include <stddef.h>
#include <stdint.h>

/* "gradcam: <message>" on stderr, one line; returns code (the exit code to use). */
int fail(int code, const char *fmt, ...);
/* The whole file (at most 512 MB), malloc'd; NULL with err. */
uint8_t *read_file(const char *path, size_t *n, char *err, size_t errlen);
int write_file(const char *path, const void *data, size_t n);
/* A float32 .npy (format 1.0, little-endian, C order) of shape[0..ndim). */
int write_npy(const char *path, const float *a, const int *shape, int ndim);
/* An RGB (channels 3) or RGBA (4) PNG. */
int write_png(const char *path, const uint8_t *px, int w, int h, int channels);

/* A JSON string literal of s on stdout. */
void json_str(const char *s);
/* Read and decode an image file; 0, or the exit code after a one-line error. */
struct gc_image;
int load_image(const char *path, struct gc_image *img);

typedef struct labels { char **name; int n; char *buf; } labels;
/* One name per line, from the file at path, else from text (NULL: none); a missing file or a count that
 * does not match the model gives "class N". */
void labels_load(labels *L, const char *path, const char *text, int n);
void labels_free(labels *L);

#endif
