// sgd.cu: SGD with momentum, Nesterov and weight decay on one tensor, torch.optim 1.13
// semantics as sn_ref_sgd_update (runtime/ref/optim.c), float arithmetic in the same order
// (explicitly rounded: no contraction):
//   d = g + wd * p;  buf = momentum * buf + d;  d = nesterov ? d + momentum * buf : buf;
//   p -= lr * d
// Slots: KERNEL, NUMEL, MOMENTUM, WEIGHT_DECAY (floats), NESTEROV (true|false).
// Run-time argument: lr. buf is unused (may be null) when MOMENTUM == 0.

constexpr i64 NUMEL = {{NUMEL}};
constexpr float MOMENTUM = {{MOMENTUM}};
constexpr float WEIGHT_DECAY = {{WEIGHT_DECAY}};
constexpr bool NESTEROV = {{NESTEROV}};

extern "C" __global__ void {{KERNEL}}(float *__restrict__ param, const float *__restrict__ grad,
                                      float *__restrict__ buf, float lr) {
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < NUMEL;
         i += (i64)gridDim.x * blockDim.x) {
        float d = grad[i];
        if (WEIGHT_DECAY != 0.0f) d = __fadd_rn(d, __fmul_rn(WEIGHT_DECAY, param[i]));
        if (MOMENTUM != 0.0f) {
            const float b = __fadd_rn(__fmul_rn(MOMENTUM, buf[i]), d);
            buf[i] = b;
            d = NESTEROV ? __fadd_rn(d, __fmul_rn(MOMENTUM, b)) : b;
        }
        param[i] = __fsub_rn(param[i], __fmul_rn(lr, d));
    }
}
