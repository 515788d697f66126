// Softmax over the last dimension of a dense [rows, cols] tensor, fp32 math: one block per
// row, three passes (max, Σ exp(x − max), write exp(x − max)/Σ).

extern "C" __global__ void td_softmax(void* out, const void* in, int dt, i64 rows, i64 cols) {
    __shared__ float scratch[32];
    for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
        const i64 base = row * cols;
        float m = -__int_as_float(0x7f800000);
        for (i64 j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, load_float(in, base + j, dt));
        m = block_max(m, scratch);
        float sum = 0.0f;
        for (i64 j = threadIdx.x; j < cols; j += blockDim.x) sum += expf(load_float(in, base + j, dt) - m);
        sum = block_sum(sum, scratch);
        const float inv = 1.0f / sum;
        for (i64 j = threadIdx.x; j < cols; j += blockDim.x) {
            store_float(out, base + j, dt, expf(load_float(in, base + j, dt) - m) * inv);
        }
        __syncthreads();
    }
}

// The same softmax for short rows (cols ≤ 1024, e.g. SLA's φ over a 128-wide head dim): one warp per
// row, grid-stride over rows, no block barriers. The row is read three times (L1/L2 resident).
extern "C" __global__ void td_softmax_warp(void* out, const void* in, int dt, i64 rows, i64 cols) {
    const int lane = threadIdx.x & 31;
    const i64 warps_total = (i64)gridDim.x * (blockDim.x >> 5);
    for (i64 row = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); row < rows; row += warps_total) {
        const i64 base = row * cols;
        float m = -__int_as_float(0x7f800000);
        for (i64 j = lane; j < cols; j += 32) m = fmaxf(m, load_float(in, base + j, dt));
        m = warp_max(m);
        float sum = 0.0f;
        for (i64 j = lane; j < cols; j += 32) sum += expf(load_float(in, base + j, dt) - m);
        sum = warp_sum(sum);
        const float inv = 1.0f / sum;
        for (i64 j = lane; j < cols; j += 32) store_float(out, base + j, dt, expf(load_float(in, base + j, dt) - m) * inv);
    }
}
