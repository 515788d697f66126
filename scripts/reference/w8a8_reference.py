"""W8A8 linear layers written out in plain PyTorch for fixtures (DESIGN §7).

TurboDiffusion quantizes with CUDA kernels; this transcribes the scheme: 128×128 blocks,
scale = amax/128, round to nearest (ties to even), saturate to [-128, 127]; activations are
quantized the same way at run time; int32 partial sums per 128-wide K block are scaled by
both block scales and summed in fp32; the bias is added after.
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
        out += partial.float() * x_s[rows, b][:, None] * w_s[cols, b][None, :]
    if bias is not None:
        out = out + bias.float()
    return out.reshape(*x.shape[:-1], n)
