"""Sparse-linear attention (SLA) written out in plain PyTorch, fp32, for fixtures.

TurboDiffusion's SLA runs as CUDA/Triton kernels that cannot execute on a CPU; this is a
transcription of its math (DESIGN §7), written for clarity, not speed:
  block map: k' = k - mean_tokens(k); mean-pool q over BLKQ-token blocks and k' over BLKK-token
  blocks (a partial last block is divided by its real count); score = pooled_q · pooled_k'^T;
  each query block keeps its max(1, floor(topk·K)) best key blocks.
  sparse branch: softmax(q k^T / sqrt(d)) restricted to the kept key blocks, times v.
  linear branch over all tokens: phi = softmax over head_dim;
  o_l = phi(q) (phi(k)^T v) / (phi(q) · sum_tokens phi(k) + 1e-5), then proj_l.
"""
import math

import torch
import torch.nn.functional as F


def block_means(x, blk):
    """x: [B, H, L, D] -> [B, H, ceil(L/blk), D], the last block averaged over its real length."""
    n = (x.shape[2] + blk - 1) // blk
    return torch.stack([x[:, :, i * blk:(i + 1) * blk].mean(dim=2) for i in range(n)], dim=2)


def kept_blocks(topk, key_blocks):
    return max(1, min(key_blocks, int(topk * key_blocks)))


def block_map(q, k, topk, blkq, blkk):
    """-> bool [B, H, MQ, MK]: which key blocks each query block attends to."""
    score = block_means(q, blkq) @ block_means(k - k.mean(dim=-2, keepdim=True), blkk).transpose(-1, -2)
    keep = kept_blocks(topk, score.shape[-1])
    chosen = score.topk(keep, dim=-1).indices
    return torch.zeros_like(score, dtype=torch.bool).scatter_(-1, chosen, True)


def sla(q, k, v, proj_w, proj_b, topk, blkq, blkk):
    """q, k, v: [B, H, L, D] fp32 -> [B, H, L, D]."""
    lq, lk = q.shape[2], k.shape[2]
    blocks = block_map(q, k, topk, blkq, blkk)
    token_mask = blocks.repeat_interleave(blkq, dim=2)[:, :, :lq].repeat_interleave(blkk, dim=3)[:, :, :, :lk]
    sparse = F.scaled_dot_product_attention(q, k, v, attn_mask=token_mask, scale=1 / math.sqrt(q.shape[-1]))
    phi_q, phi_k = q.softmax(dim=-1), k.softmax(dim=-1)
    kv = phi_k.transpose(-1, -2) @ v
    k_sum = phi_k.sum(dim=-2, keepdim=True)
    linear = (phi_q @ kv) / (1e-5 + (phi_q * k_sum).sum(dim=-1, keepdim=True))
    return sparse + linear @ proj_w.T + proj_b


# ---- SageSLA: the same map and linear branch, the sparse branch in 8-bit (DESIGN §7) ----
# Transcribed from TurboDiffusion's SageSparseLinearAttention (sm89+/sm90 path) and the SpargeAttn
# kernels it calls:
#   q int8 per BLKQ-token block, k - mean_tokens(k) int8 per BLKK-token block:
#       scale = max|x| / 127 + 1e-7, value = trunc(x/scale + 0.5·sign) (ties away from zero);
#   v fp8 e4m3 per channel over all tokens with scale = max|v| / 2.25;
#   online softmax over the selected key blocks in base 2 (s·scale·log2 e); the probabilities
#   are lifted by 2^8.807 (≈ 448, the e4m3 range) and cast to e4m3 for the P·V product, the row
#   sum uses the probabilities before the cast; o = Σ P8·V8 / Σ P · v_scale.
FP8_OFFSET = 8.807


def quantize_int8_blocks(x, blk):
    """x: [B, H, L, D] -> (int8 values as float [B, H, L, D], per-token scale [B, H, L, 1])."""
    vals, scales = [], []
    for i in range(0, x.shape[2], blk):
        part = x[:, :, i:i + blk]
        s = part.abs().amax(dim=(2, 3), keepdim=True) / 127 + 1e-7
        y = part / s
        vals.append(torch.trunc(y + 0.5 * torch.where(y >= 0, 1.0, -1.0)))
        scales.append(s.expand(-1, -1, part.shape[2], 1))
    return torch.cat(vals, dim=2), torch.cat(scales, dim=2)


def sage_sparse(q, k, v, blocks, blkq, blkk):
    """The 8-bit sparse branch. blocks: bool [B, H, MQ, MK] -> [B, H, L, D]."""
    lq, lk = q.shape[2], k.shape[2]
    qi, qs = quantize_int8_blocks(q, blkq)
    ki, ks = quantize_int8_blocks(k - k.mean(dim=-2, keepdim=True), blkk)
    vs = v.abs().amax(dim=-2, keepdim=True) / 2.25
    vs = torch.where(vs > 0, vs, torch.ones_like(vs))
    v8 = (v / vs).to(torch.float8_e4m3fn).float()
    s2 = (qi @ ki.transpose(-1, -2)) * qs * ks.transpose(-1, -2) * (1 / math.sqrt(q.shape[-1]) * math.log2(math.e))
    row_blocks = blocks.repeat_interleave(blkq, dim=2)[:, :, :lq]          # [B, H, L, MK]
    m = torch.full(q.shape[:3] + (1,), -math.inf)
    acc = torch.zeros(q.shape[:3] + (v.shape[-1],))
    den = torch.zeros(q.shape[:3] + (1,))
    for j in range(0, lk, blkk):
        use = row_blocks[..., j // blkk:j // blkk + 1]                       # [B, H, L, 1]
        s = s2[..., j:j + blkk]
        m_new = torch.where(use, torch.maximum(m, s.amax(dim=-1, keepdim=True)), m)
        alpha = torch.where(use & (m > -math.inf), torch.exp2(m - m_new), torch.where(use, 0.0, 1.0))
        p = torch.where(use, torch.exp2(s - m_new + FP8_OFFSET), 0.0)
        acc = acc * alpha + p.to(torch.float8_e4m3fn).float() @ v8[:, :, j:j + blkk]
        den = den * alpha + p.sum(dim=-1, keepdim=True)
        m = m_new
    return acc / den * vs


def sagesla(q, k, v, proj_w, proj_b, topk, blkq, blkk):
    """q, k, v: [B, H, L, D] fp32 -> [B, H, L, D]."""
    blocks = block_map(q, k, topk, blkq, blkk)
    phi_q, phi_k = q.softmax(dim=-1), k.softmax(dim=-1)
    kv = phi_k.transpose(-1, -2) @ v
    k_sum = phi_k.sum(dim=-2, keepdim=True)
    linear = (phi_q @ kv) / (1e-5 + (phi_q * k_sum).sum(dim=-1, keepdim=True))
    return sage_sparse(q, k, v, blocks, blkq, blkk) + linear @ proj_w.T + proj_b
