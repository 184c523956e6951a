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

/* Max over the window; padded positions are -inf (never chosen), as in PyTorch. A NaN in
 * the window propagates (PyTorch CPU). */
void sn_ref_maxpool2d(const sn_pool_params *p, const float *x, float *y);
/* Mean over the window with padded zeros counted (PyTorch count_include_pad=True). The
 * divisor is PyTorch's: KH*KW, except that a window running past the padded input (output
 * sizes computed in ceil mode) counts only the part inside it. */
void sn_ref_avgpool2d(const sn_pool_params *p, const float *x, float *y);

/* y = max(x, 0); y may alias x. */
void sn_ref_relu(int64_t n, const float *x, float *y);

/* Inference form: y = (x - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c].
 * gamma / beta may be NULL (affine = false: 1 and 0), here and in the training forms. */
void sn_ref_batchnorm_infer(const sn_bn_params *p, const float *x, const float *gamma,
                            const float *beta, const float *mean, const float *var, float *y);

/* Training: y = x * keep / (1 - p), keep = sn_rand_u01(seed, stream, i) >= p; p >= 1 gives
 * y = 0. Evaluation (training == 0): y = x (and mask all 1). mask (may be NULL) receives keep
 * as 0/1 bytes. y may alias x. */
void sn_ref_dropout(int64_t n, float p, int training, uint64_t seed, uint64_t stream,
                    const float *x, float *y, uint8_t *mask);
/* The same for a rank's part [s0, s0 + nl) of a global batch of ng images (data-parallel
 * training): x is [T, nl, per] (T = n / (nl * per)) and element i draws with its index in
 * the global batch (sn_batch_index), so masks do not depend on the number of ranks. */
void sn_ref_dropout_part(int64_t n, float p, int training, uint64_t seed, uint64_t stream,
                         int64_t per, int64_t nl, int64_t s0, int64_t ng, const float *x, float *y,
                         uint8_t *mask);

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

/* The same, also writing V[t] (after the reset) into v_seq [T, n] when it is not NULL. */
void sn_ref_neuron_forward_v(const sn_neuron_params *p, int T, int64_t n, const float *x,
                             float *spikes, float *v_state, float *h_seq, float *v_seq);

/* ---- NIR ops (nir.c, docs/nir.md) ---- */

/* y[n, e] = x[n, e] * s[e] for N images of E elements. y may alias x. */
void sn_ref_scale(int64_t N, int64_t E, const float *x, const float *s, float *y);
/* Window sums (NIR SumPool2d): zero padding, floor mode, no division. */
void sn_ref_sumpool2d(const sn_pool_params *p, const float *x, float *y);
/* The leak factor of a discretized leaky neuron: dt/tau (Euler) or 1 - exp(-dt/tau) (exact),
 * computed in double and rounded to float. */
float sn_nir_leak(float dt, float tau, int exact);
/* Continuous-time neurons (op_params.h): x and y are [T][N][E] (E elements per image, the
 * parameter arrays prm[SN_NIRP_*] have E entries; NULL for those the model does not read).
 * v_state (N*E floats) holds the potentials on entry and exit (NULL: start from the initial
 * value, sn_nir_initial_v); v_seq (may be NULL) receives v after every step, [T][N][E]. */
void sn_ref_nir_neuron(const sn_nir_neuron_params *p, int T, int64_t N, int64_t E, const float *x,
                       const float *const *prm, float *y, float *v_state, float *v_seq);
/* v before the first step: v_leak (LIF, LI), v_reset (IF; 0 with subtractive reset), 0 (I). */
float sn_nir_initial_v(const sn_nir_neuron_params *p, const float *const *prm, int64_t e);

/* Spatial threshold units: counts[n,c,s] = #{ i < U : v[n,c,s] >= theta[c*U + i] }. */
void sn_ref_threshold_units(const sn_threshold_params *p, const float *v, const float *theta,
                            float *counts);

/* Poisson encoder: s[t, i] = (sn_rand_u01(seed, t, i) <= x[i]) ? 1 : 0, for t < T.
 * Returns the number of x outside [0, 1] or NaN (the caller rejects the input if nonzero).
 * (u can be exactly 0, probability 2^-24, so x = 0 fires that rarely, as torch.rand().le(x).) */
int64_t sn_ref_encode_poisson(int T, int64_t n, uint64_t seed, const float *x, float *s);
/* The same for steps t0 .. t0 + T - 1 (one step of a step-major schedule). */
int64_t sn_ref_encode_poisson_at(int t0, int T, int64_t n, uint64_t seed, const float *x, float *s);
/* The same for a rank's part of a global batch (data-parallel training): element i draws
 * with index base + i, base being the index of the part's first element in the global batch
 * (the part's first image times the elements per image). */
int64_t sn_ref_encode_poisson_part(uint64_t base, int t0, int T, int64_t n, uint64_t seed,
                                   const float *x, float *s);
/* Direct encoder: s[t, i] = x[i] for every t < T. */
void sn_ref_encode_direct(int T, int64_t n, const float *x, float *s);
/* Spike deletion (noise): x holds spike counts (whole numbers; clamped to [0, U]); each of
 * the c spikes of element i is kept when sn_rand_u01_key(key, i*U + j) >= p, j < c. */
void sn_ref_spike_drop(int64_t n, int U, float p, uint32_t key, const float *x, float *y);
/* The same for elements base .. base + n - 1 of a larger tensor (one step of step-major). */
void sn_ref_spike_drop_at(uint64_t base, int64_t n, int U, float p, uint32_t key, const float *x,
                          float *y);

/* Mean over the leading T axis: y[i] = (1/T) * sum_t x[t, i]. */
void sn_ref_time_mean(int T, int64_t n, const float *x, float *y);

/* Softmax cross-entropy with label smoothing eps (PyTorch CrossEntropyLoss(
 * label_smoothing=eps), mean over N):
 *   loss_n = -sum_j q_j log softmax(z_n)_j,  q_j = (1-eps)[j==label] + eps/K.
 * Returns the mean loss. grad (may be NULL) receives d(mean loss)/d(logits), [N, K]. */
double sn_ref_softmax_ce(int64_t N, int K, const float *logits, const int32_t *labels,
                         float smoothing, float *grad);

/* MSE against one-hot labels (the seed-004 loss): mean over N*K of (x - onehot)^2.
 * grad (may be NULL) receives d(loss)/dx.
 * For both losses, a label outside [0, K) makes the loss NaN (and that row's gradient NaN):
 * the caller validates labels. N == 0 returns 0. */
double sn_ref_mse_onehot(int64_t N, int K, const float *x, const int32_t *labels, float *grad);

/* Top-k correctness: returns the number of rows whose label is among the k largest
 * logits (ties broken toward the lower index, like torch.topk on CPU; NaN ranks largest;
 * a label outside [0, K) is never correct). */
int64_t sn_ref_topk_correct(int64_t N, int K, const float *logits, const int32_t *labels, int k);

/* ==== Helpers ========================================================================== */

/* The surrogate derivative of Theta at x = H - V_th (spec-neurons.md):
 *   ATan:    alpha / (2 * (1 + (pi/2 * alpha * x)^2))
 *   Sigmoid: alpha * sig(alpha*x) * (1 - sig(alpha*x)) */
double sn_ref_surrogate_grad(sn_surrogate_fn fn, float alpha, double x);

/* ==== Backward (training) ===============================================================
 * Each function is the exact gradient of the forward op above (the neuron's Theta uses the
 * surrogate). Gradient outputs are overwritten, never accumulated, and never alias inputs
 * unless the comment says so.
 *
 * Ternary weights: straight-through estimator, dL/dw = dL/dwt (no function needed).
 * Threshold units and the Poisson encoder are not differentiated (inference / input only). */

/* dx[n,c,ih,iw] = sum over (o,kh,kw,oh,ow) with ih = oh*SH-PH+kh, iw = ow*SW-PW+kw of
 * dy[n,o,oh,ow] * w[o,c,kh,kw]. */
void sn_ref_conv2d_backward_data(const sn_conv_params *p, const float *dy, const float *w,
                                 float *dx);
/* dw[o,c,kh,kw] = sum_{n,oh,ow} dy[n,o,oh,ow] * x[n,c,oh*SH-PH+kh,ow*SW-PW+kw] (zero pads);
 * db[o] = sum_{n,oh,ow} dy[n,o,oh,ow] (db may be NULL). */
void sn_ref_conv2d_backward_weight(const sn_conv_params *p, const float *x, const float *dy,
                                   float *dw, float *db);

/* dx[n,k] = sum_m dy[n,m] w[m,k]; dw[m,k] = sum_n dy[n,m] x[n,k]; db[m] = sum_n dy[n,m].
 * Any of dx, dw, db may be NULL (not computed). */
void sn_ref_linear_backward(const sn_linear_params *p, const float *x, const float *w,
                            const float *dy, float *dx, float *dw, float *db);

/* Each dy[n,c,oh,ow] goes to the input position the forward chose: the first maximum in
 * window scan order (kh, then kw); if the window holds NaNs, the last of them (a NaN always
 * replaces the pick, as PyTorch CPU). */
void sn_ref_maxpool2d_backward(const sn_pool_params *p, const float *x, const float *dy, float *dx);
/* dx[in-bounds position] = sum over the windows holding it of dy / (the forward divisor). */
void sn_ref_avgpool2d_backward(const sn_pool_params *p, const float *dy, float *dx);

/* dx = dy where x > 0, else 0. dx may alias dy. */
void sn_ref_relu_backward(int64_t n, const float *x, const float *dy, float *dx);

/* Training-mode BatchNorm (PyTorch semantics), per channel c over the m = N*HW values:
 *   mean = (1/m) sum x,  var = (1/m) sum (x - mean)^2 (biased, used to normalize),
 *   invstd = 1/sqrt(var + eps),  y = (x - mean) * invstd * gamma + beta;
 *   running_mean = (1 - momentum) * running_mean + momentum * mean,
 *   running_var  = (1 - momentum) * running_var  + momentum * var * m/(m-1) (unbiased).
 * m must be > 1 (PyTorch refuses m == 1; here the unbiased variance would be NaN).
 * running_mean/running_var may be NULL (not tracked); save_mean/save_invstd (C floats,
 * may be NULL) receive mean and invstd for the backward pass. */
void sn_ref_batchnorm_train_forward(const sn_bn_params *p, const float *x, const float *gamma,
                                    const float *beta, float *running_mean, float *running_var,
                                    float *y, float *save_mean, float *save_invstd);
/* Gradient of the training-mode forward (batch statistics depend on x), xhat =
 * (x - mean) * invstd:
 *   dbeta[c] = sum dy,  dgamma[c] = sum dy * xhat,
 *   dx = gamma * invstd / m * (m * dy - dbeta - xhat * dgamma).
 * dx, dgamma and dbeta may each be NULL (not computed). */
void sn_ref_batchnorm_backward(const sn_bn_params *p, const float *x, const float *dy,
                               const float *gamma, const float *save_mean, const float *save_invstd,
                               float *dx, float *dgamma, float *dbeta);

/* dx = dy * mask / (1 - p) with the forward's mask (0 when p >= 1); mask == NULL means the
 * forward ran in evaluation mode: dx = dy. dx may alias dy. */
void sn_ref_dropout_backward(int64_t n, float p, const uint8_t *mask, const float *dy, float *dx);

/* Straight-through estimator of Q(k,B): dx = dy where 0 < x < B, else 0 (x is the quant
 * input). dx may alias dy. */
void sn_ref_quant_backward(int64_t n, const sn_quant_params *p, const float *x, const float *dy,
                           float *dx);

/* BPTT through sn_ref_neuron_forward (the derivation is in neuron.c). h_seq and spikes are
 * the forward's H and S, [T, n]; dspikes = dL/dS, [T, n]; dx receives dL/dX, [T, n].
 * dv_state (n floats, may be NULL) holds dL/dV[T-1] on entry (NULL: 0) and receives
 * dL/dV[-1] on exit, mirroring the forward's v_state. */
void sn_ref_neuron_backward(const sn_neuron_params *p, int T, int64_t n, const float *h_seq,
                            const float *spikes, const float *dspikes, float *dx, float *dv_state);

/* dx[t, i] = dy[i] / T. */
void sn_ref_time_mean_backward(int T, int64_t n, const float *dy, float *dx);
/* dx[i] = sum_t ds[t, i]. */
void sn_ref_encode_direct_backward(int T, int64_t n, const float *ds, float *dx);

/* ---- optimizers (torch.optim 1.13 semantics, one tensor) ---- */

/* SGD: d = g + wd*p; buf = momentum*buf + d (buf starts at 0); d = nesterov ? d +
 * momentum*buf : buf; p -= lr*d. buf is unused (may be NULL) when momentum == 0. */
void sn_ref_sgd_update(int64_t n, float lr, float momentum, float weight_decay, int nesterov,
                       float *param, const float *grad, float *buf);
/* Adam (L2 weight decay added to the gradient, no amsgrad); step counts from 1. */
void sn_ref_adam_update(int64_t n, float lr, float beta1, float beta2, float eps,
                        float weight_decay, int64_t step, float *param, const float *grad,
                        float *exp_avg, float *exp_avg_sq);

#endif
