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
