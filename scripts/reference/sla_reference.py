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
