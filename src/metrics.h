/* metrics.h: pytorch-grad-cam's faithfulness metrics of a CAM, run as units of explain.c's jobs.
 *
 * Every metric is score(perturbed input) - score(input), the score being the class probability (softmax,
 * or the model's sigmoid head): the library's PerturbationConfidenceMetric with ClassifierOutputSoftmaxTarget.
 *   unit 0          CamMultImageConfidenceChange: input * cam (normalised input, cam broadcast over RGB)
 *   units 1..n      ROAD, most relevant first, at percentile p: the pixels with cam >= percentile(cam, p)
 *                   are imputed (NoisyLinearImputer, impute.h), the others kept
 *   units n+1..2n   ROAD, least relevant first: the same rule on 1 - cam
 * Where every pixel would be imputed (at least p% of the CAM is exactly 0), the input becomes the
 * dataset mean (0 in normalised space): the reference's solve is singular there and scores NaN.
 * DropInConfidence = max(-change, 0), IncreaseInConfidence = change > 0, and
 * ROADCombined = (mean LeRF - mean MoRF) / 2 follow from them.
 */
#ifndef GC_METRICS_H
#define GC_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "gradcam.h"

typedef struct gc_metrics_desc {
  int n, percentiles[GC_ROAD_MAX];
  double noise;
  uint64_t seed;
} gc_metrics_desc;

/* From the explain descriptor (percentiles default to 10..90); -1 with err for bad ones. */
int gc_metrics_setup(gc_metrics_desc *md, const gc_explain_desc *d, char *err, size_t errlen);
/* Start filling m; score is the class probability on the unperturbed input. */
void gc_metrics_begin(gc_metrics *m, const gc_metrics_desc *md, float score);
/* Unit i (0 .. 2n): perturb x0 [H][W][3] by cam [H][W], run the network, record. 0 or -1 with err. */
int gc_metrics_unit(gc_ctx *g, const gc_metrics_desc *md, int i, const float *x0, const float *cam, int cls,
                    gc_metrics *m, char *err, size_t errlen);

/* numpy.percentile(v, p) with its default linear rule; v [n] (not modified). */
float gc_percentile(const float *v, size_t n, double p);

#endif
