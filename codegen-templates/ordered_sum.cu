// ordered_sum.cu: the last step of a multi-block reduction: one thread adds N doubles in
// index order (the reference's row order for losses, block order for partial sums), so the
// total does not depend on the grid or on timing, and FINISH stores it.
//
// Slots: KERNEL, N, OUT_T (the output's element type), FINISH (statements using double
// total, writing through out). Grid: 1 block of 1 thread.

constexpr i64 NP = {{N}};

extern "C" __global__ void {{KERNEL}}(const double *__restrict__ parts,
                                      {{OUT_T}} *__restrict__ out) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    double total = 0.0;
    for (i64 i = 0; i < NP; i++) total += parts[i];
{{FINISH}}
}
