/* The reference interpreter's ops: plain, obviously-correct C loops.
 *
 * This is the oracle every backend is tested against, so clarity wins over speed:
 * no blocking, no SIMD, double accumulators where a sum is long. Every op follows the
 * PyTorch (and, for neurons, SpikingJelly 0.0.0.0.14) definition; the comment on each
 * function states it. Layouts: activations NCHW (N = all leading batch-like dims),
 * conv weights OIHW, linear weights [out, in]. Output buffers never alias inputs unless
 * the comment says so. */
#ifndef SN_REF_OPS_H
#define SN_REF_OPS_H

#include <stdint.h>

#include "../core/op_params.h"

/* y[n,o,oh,ow] = b[o] + sum_{c,kh,kw} x[n,c,oh*SH-PH+kh,ow*SW-PW+kw] * w[o,c,kh,kw]
 * (zero padding; b may be NULL when !has_bias). */
void sn_ref_conv2d(const sn_conv_params *p, const float *x, const float *w, const float *b,
                   float *y);

/* y[n,m] = b[m] + sum_k x[n,k] * w[m,k]   (b may be NULL when !has_bias). */
void sn_ref_linear(const sn_linear_params *p, const float *x, const float *w, const float *b,
                   float *y);

/* Max over the window; padded positions are -inf (never chosen), as in PyTorch. */
void sn_ref_maxpool2d(const sn_pool_params *p, const float *x, float *y);
/* Mean over the window with padded zeros counted (PyTorch count_include_pad=True). */
void sn_ref_avgpool2d(const sn_pool_params *p, const float *x, float *y);

/* y = max(x, 0); y may alias x. */
void sn_ref_relu(int64_t n, const float *x, float *y);

/* Inference form: y = (x - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c]. */
void sn_ref_batchnorm_infer(const sn_bn_params *p, const float *x, const float *gamma,
                            const float *beta, const float *mean, const float *var, float *y);

/* Training: y = x * keep / (1 - p), keep = sn_rand_u01(seed, stream, i) >= p.
 * Evaluation (training == 0): y = x. mask (may be NULL) receives keep as 0/1 bytes.
 * y may alias x. */
void sn_ref_dropout(int64_t n, float p, int training, uint64_t seed, uint64_t stream,
                    const float *x, float *y, uint8_t *mask);

/* Q(k,B): y = floor(2^k * clip(x, 0, B) + 0.5) / 2^k: the nearest of the 2^k*B + 1 levels,
 * ties rounded up, so the decision points are exactly the midpoints (i + 1/2) / 2^k (the
 * seed-001 code approximates this by adding 1e-5 before rounding). y may alias x. */
void sn_ref_quant(int64_t n, const sn_quant_params *p, const float *x, float *y);

/* Ternary weights: delta = threshold_factor * mean|w|; wt = sign(w) where |w| > delta,
 * else 0. */
void sn_ref_ternary(int64_t n, float threshold_factor, const float *w, float *wt);

/* IF / LIF dynamics over T steps for n independent neurons, per spec-neurons.md:
 * x and spikes are [T, n]. v_state (n floats) holds V[-1] on entry and V[T-1] on exit;
 * pass NULL to start from the reset value (V_reset, or 0 under soft reset).
 * h_seq (may be NULL) receives H[t] (the membrane after charge, before reset), [T, n],
 * which the backward pass needs. */
void sn_ref_neuron_forward(const sn_neuron_params *p, int T, int64_t n, const float *x,
                           float *spikes, float *v_state, float *h_seq);

/* Spatial threshold units: counts[n,c,s] = #{ i < U : v[n,c,s] >= theta[c*U + i] }. */
void sn_ref_threshold_units(const sn_threshold_params *p, const float *v, const float *theta,
                            float *counts);

/* Poisson encoder: s[t, i] = (sn_rand_u01(seed, t, i) <= x[i]) ? 1 : 0, for t < T.
 * Returns the number of x outside [0, 1] (the caller rejects the input if nonzero). */
int64_t sn_ref_encode_poisson(int T, int64_t n, uint64_t seed, const float *x, float *s);
/* Direct encoder: s[t, i] = x[i] for every t < T. */
void sn_ref_encode_direct(int T, int64_t n, const float *x, float *s);

/* Mean over the leading T axis: y[i] = (1/T) * sum_t x[t, i]. */
void sn_ref_time_mean(int T, int64_t n, const float *x, float *y);

/* Softmax cross-entropy with label smoothing eps (PyTorch CrossEntropyLoss(
 * label_smoothing=eps), mean over N):
 *   loss_n = -sum_j q_j log softmax(z_n)_j,  q_j = (1-eps)[j==label] + eps/K.
 * Returns the mean loss. grad (may be NULL) receives d(mean loss)/d(logits), [N, K]. */
double sn_ref_softmax_ce(int64_t N, int K, const float *logits, const int32_t *labels,
                         float smoothing, float *grad);

/* MSE against one-hot labels (the seed-004 loss): mean over N*K of (x - onehot)^2.
 * grad (may be NULL) receives d(loss)/dx. */
double sn_ref_mse_onehot(int64_t N, int K, const float *x, const int32_t *labels, float *grad);

/* Top-k correctness: returns the number of rows whose label is among the k largest
 * logits (ties broken toward the lower index, like torch.topk on CPU). */
int64_t sn_ref_topk_correct(int64_t N, int K, const float *logits, const int32_t *labels, int k);

#endif
