/* linalg.h: the top eigenpair of a symmetric matrix, and the two projections the PCA-style CAM
 * methods are built on (Eigen-CAM's first principal component, KPCA-CAM's kernel PCA).
 *
 * Everything here computes in double, whatever the input type, and needs only libc/libm.
 *
 * Eigen solver. gc_sym_top_eig returns the eigenvector of the LARGEST ALGEBRAIC eigenvalue (not the
 * largest in magnitude: a centred sigmoid kernel can have big negative eigenvalues), unit length.
 *   n <= GC_EIG_DENSE_MAX: Householder tridiagonalisation (O(4/3 n^3)), the top eigenvalue of the
 *     tridiagonal by Sturm bisection, its eigenvector by inverse iteration, transformed back.
 *   larger n: Lanczos with full reorthogonalisation and thick restarts (gc_sym_top_eig_op), whose
 *     cost is one n^2 mat-vec per step; well separated tops converge in a few dozen steps.
 * Residual |A v - val v|: ~1e-15 |A| dense; Lanczos stops below 1e-10 |A| (checked with a true
 * mat-vec; typically 1e-12..1e-14).
 * The eigenvector's sign is whatever the method produced: callers that need one choose it.
 *
 * Projections. a is one activation tensor as [hw][c] (NHWC flattened: hw positions x c channels),
 * out is [hw]. NaN entries count as 0 (as pytorch-grad-cam does before its SVD). The sign rule of
 * both: the entry of largest magnitude (the first one among ties) is made positive; for kernel PCA
 * that is sklearn's svd_flip, for the SVD projection it is our own choice (torch's sign is arbitrary).
 */
#ifndef GC_LINALG_H
#define GC_LINALG_H

/* Up to this n gc_sym_top_eig is dense (600: 0.3 GFLOP, ~0.1 s native, ~0.1-0.2 s wasm); above it,
 * Lanczos. (The Gram matrices of gc_project_2d on ResNet-18 are at most 256 x 256: a few ms.) */
#define GC_EIG_DENSE_MAX 600

/* Largest kernel gc_kpca_project builds: hw x hw doubles, kept as a packed triangle, 4096^2 * 4 bytes
 * = 64 MB (plus a few MB of Lanczos vectors). */
#define GC_KPCA_MAX 4096

/* Top eigenpair of the symmetric n x n matrix a (row-major; the dense path reads only the lower
 * triangle, Lanczos the whole matrix, so pass a full symmetric matrix). vec: [n], unit length;
 * *val: its eigenvalue (the Rayleigh quotient of vec).
 * Returns 0, or -1: n < 1, out of memory, or Lanczos did not converge within 4000 mat-vecs (then
 * vec/val are unspecified). */
int gc_sym_top_eig(const double *a, int n, double *vec, double *val);

/* The same by Lanczos for a matrix given only as y = A x (x, y: [n], y overwritten; A symmetric).
 * Deterministic: a fixed pseudo-random start vector. Memory: about 81 vectors of n doubles. */
typedef void (*gc_matvec_fn)(void *ctx, const double *x, double *y);
int gc_sym_top_eig_op(gc_matvec_fn matvec, void *ctx, int n, double *vec, double *val);

/* pytorch-grad-cam's get_2d_projection for one tensor: X = a with NaN -> 0, minus its per-channel
 * (column) means; out = X v1, v1 the first right-singular vector of X, computed through the smaller
 * Gram matrix (hw <= c: out = sqrt(l1) u1 with u1 the top eigenvector of X X^T; else X v1 with v1 the
 * top eigenvector of X^T X). An all-zero X gives all zeros. Sign rule above.
 * Returns 0, or -1 (out of memory / eigen solver failure; out untouched). */
int gc_project_2d(const float *a, int hw, int c, float *out);

/* scikit-learn's KernelPCA(n_components=1, kernel='sigmoid', gamma=None, coef0=1).fit_transform(X),
 * X = a with NaN -> 0, minus its per-channel means if center_x (pytorch-grad-cam's KPCA-CAM centres
 * X before it calls KernelPCA, so pass 1 to match it):
 *   K = tanh(X X^T / c + 1)                          [hw][hw], gamma = 1/n_features
 *   Kc = K - 1K/hw - K1/hw + 1K1/hw^2                 (sklearn's KernelCenterer)
 *   (l, v) = top (largest algebraic) eigenpair of Kc  v made sign-definite by svd_flip
 *   out = v sqrt(max(l, 0))
 * (sklearn raises "all eigenvalues are negative" when l < 0; l >= 0 up to rounding, since the
 * all-ones vector is in Kc's null space, and we return zeros there.)
 * Cost: hw^2 c / 2 for the kernel plus Lanczos (hw > GC_EIG_DENSE_MAX) at hw^2 per step; ResNet-18's
 * layer1 (hw 3136, c 64): ~0.33 s native, ~0.66 s wasm; layer2 (784 x 128): 26 / 67 ms.
 * Returns 0, or -1: hw > GC_KPCA_MAX (the kernel would be too big; callers say so), out of memory,
 * or eigen solver failure; out untouched then. */
int gc_kpca_project(const float *a, int hw, int c, int center_x, float *out);

#endif
