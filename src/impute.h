/* impute.h: ROAD's noisy linear imputation (Rong et al. 2022, "A Consistent and Efficient Evaluation
 * Strategy for Attribution Methods"; pytorch-grad-cam's metrics/road.py NoisyLinearImputer).
 *
 * Every unknown pixel becomes the weighted mean of its 8 neighbours: weight 1/6 for the 4 edge
 * neighbours, 1/12 for the 4 diagonal ones. Neighbours outside the image are dropped and the pixel's
 * own weight (the sum it is divided by) shrinks with them, exactly as the reference's sum_neighbors:
 *   s_i x_i - sum_{unknown j ~ i} w_ij x_j = sum_{known j ~ i} w_ij img_j,   s_i = sum_{j ~ i in image} w_ij
 * one sparse linear system per channel, all sharing the matrix. It is symmetric positive definite as
 * soon as one pixel is known (each connected unknown region then borders a known pixel).
 *
 * Solver: conjugate gradients in double, all channels at once (one pass of the stencil serves them
 * all), preconditioned by one V-cycle of aggregation multigrid (2x2 blocks of the grid, Galerkin coarse
 * stencils, symmetric Gauss-Seidel smoothing, a dense Cholesky at the coarsest 16x16-or-smaller level),
 * the stencil applied directly on the pixel grid, no general sparse matrix. It stops when every
 * channel's residual is below 1e-9 of its right-hand side (2-norms): the equations then hold to ~1e-7
 * at 224x224 (the output is float). At 224x224x3 with 10 / 50 / 90 % unknown (blob masks): 14 / 17 / 17
 * iterations, ~7 / 35 / 60 ms native -O2; Jacobi-preconditioned CG needs 168 / 388 / 804 iterations,
 * 31 / 330 / 1170 ms.
 *
 * Noise: after the solve, each imputed value gets + noise * N(0, 1); known pixels never change. The
 * normal draws are Box-Muller pairs (both halves used) of splitmix64 uniforms from the seed, taken in
 * order over the unknown pixels (row-major) and channels: the same seed gives the same image (across
 * platforms to the last bit of libm's log/sin/cos). noise = 0 draws nothing.
 */
#ifndef GC_IMPUTE_H
#define GC_IMPUTE_H

#include <stdint.h>

enum {
  GC_IMPUTE_OK = 0,
  GC_IMPUTE_SINGULAR = -1, /* no pixel is known (while some are unknown), or h, w or c < 1 */
  GC_IMPUTE_NOMEM = -2,
  GC_IMPUTE_NOCONV = -3,   /* a NaN/inf known pixel borders a hole, or the solver hit its iteration cap
                            * (300; not seen in practice, ~17 are needed) */
};

/* img: [h][w][c] (NHWC), in/out: only pixels with keep == 0 are written.   keep: [h][w], nonzero =
 * known. noise: standard deviation of the added Gaussian noise (ROAD uses 0.01); seed: its stream.
 * Returns GC_IMPUTE_OK (also when nothing is unknown) or one of the errors above; img is unchanged on
 * any error. Unknown pixels' input values are never read (NaN is fine there). Memory, freed before it
 * returns: about 11 MB at 224x224x3 with 90 % unknown (3.7 MB of it three full-image double vectors). */
int gc_impute_linear(float *img, const uint8_t *keep, int h, int w, int c, double noise, uint64_t seed);

#endif
