// igemm_store.cuh: the store phase both implicit-GEMM templates (igemm_fp32.cu,
// igemm_tc.cu) share, rendered on its own and pasted into their STORE slot. The block's
// BM x BN results are in the shared tile Cs; each thread takes (row, column group) pairs:
// every element of a group of TAPS columns passes the fused epilogue, POOL_ACC reduces the
// group into one value, which is stored at y[out_index(m, column group)].
//
// Slots: EPILOGUE (statements updating float v; m, oi (the output index), p0, p1, aux in
// scope); POOL_INIT, POOL_ACC, POOL_FINISH (statements on float acc and the epilogue's v).
    // epilogue: one stored value per (row, column group)
    constexpr int QN = BN / TAPS;
    for (int e = tid; e < BM * QN; e += NT) {
        const int r = e / QN, q = e % QN;
        const idx m = m0 + r, jq = j0 / TAPS + q;
        if (m >= GM || jq >= GN / TAPS) continue;
        const idx oi = out_index(m, jq);
        float acc = 0.0f;
{{POOL_INIT}}
        for (int tap = 0; tap < TAPS; tap++) {
            float v = Cs[r][q * TAPS + tap];
{{EPILOGUE}}
{{POOL_ACC}}
        }
{{POOL_FINISH}}
        y[oi] = acc;
    }
