"""W8A8 linear layers written out in plain PyTorch for fixtures (DESIGN §7).

TurboDiffusion quantizes with CUDA kernels; this transcribes the scheme: 128×128 blocks,
scale = amax/128, round to nearest (ties to even), saturate to [-128, 127]; activations are
quantized the same way at run time; int32 partial sums per 128-wide K block are folded into the fp32
sum as fma(float(partial), sx·sw, acc) (the product of the block scales rounded once); the bias is
added after.
"""
import torch

BLOCK = 128


def quantize_blocks(x):
    """x: [R, C] float -> (int8 [R, C], float32 scales [ceil(R/128), ceil(C/128)])."""
    r, c = x.shape
    rb, cb = -(-r // BLOCK), -(-c // BLOCK)
    padded = torch.zeros(rb * BLOCK, cb * BLOCK, dtype=torch.float32)
    padded[:r, :c] = x.float()
    blocks = padded.view(rb, BLOCK, cb, BLOCK)
    scale = blocks.abs().amax(dim=(1, 3)) / 128
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.round(blocks / safe[:, None, :, None]).clamp(-128, 127)
    q = torch.where(scale[:, None, :, None] > 0, q, torch.zeros_like(q))
    return q.view(rb * BLOCK, cb * BLOCK)[:r, :c].to(torch.int8), scale


def fma_f32(a, b, c):
    """float32 fma(a, b, c) rounded once, as upstream's epilogue `acc += float(p) * (sa * sb)` compiles
    (nvcc contracts it). a·b is exact in float64; the error of adding c to it comes from TwoSum, and the
    float64 sum rounded to odd (nudged one ulp toward the error when inexact and even) rounds to float32
    exactly as the single rounding would (float64 has ≥ 24 + 2 bits)."""
    x = a.double() * b.double()
    y = c.double()
    s = x + y
    bb = s - x
    err = (x - (s - bb)) + (y - bb)
    inexact_even = (err != 0) & ((s.view(torch.int64) & 1) == 0)
    toward = torch.where(err > 0, torch.full_like(s, float("inf")), torch.full_like(s, float("-inf")))
    return torch.where(inexact_even, torch.nextafter(s, toward), s).float()


def w8a8_linear(x, w_q, w_s, bias):
    """x: [..., K] -> [..., N] float32."""
    k = x.shape[-1]
    flat = x.reshape(-1, k)
    x_q, x_s = quantize_blocks(flat)
    m, n = flat.shape[0], w_q.shape[0]
    out = torch.zeros(m, n, dtype=torch.float32)
    rows, cols = torch.arange(m) // BLOCK, torch.arange(n) // BLOCK
    for b in range(-(-k // BLOCK)):
        sl = slice(b * BLOCK, (b + 1) * BLOCK)
        partial = x_q[:, sl].double() @ w_q[:, sl].double().T       # exact integer sums
        out = fma_f32(partial.float(), x_s[rows, b][:, None] * w_s[cols, b][None, :], out)
    if bias is not None:
        out = out + bias.float()
    return out.reshape(*x.shape[:-1], n)
