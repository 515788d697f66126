"""Loads the reference Wan modules from the pinned `wan22` wheel as a private package.

`import wan` pulls heavy optional dependencies and t5.py touches CUDA at import time, so we
copy the module files we need into a temporary package and give it an exact attention:
`flash_attention` becomes torch's scaled_dot_product_attention in the inputs' dtype.
"""
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
import types

import torch
import torch.nn.functional as F

_PKG = None


def _attention_module():
    mod = types.ModuleType("wanref.modules.attention")

    def flash_attention(q, k, v, q_lens=None, k_lens=None, dropout_p=0.0, softmax_scale=None,
                        q_scale=None, causal=False, window_size=(-1, -1), deterministic=False,
                        dtype=torch.bfloat16, version=None):
        # q, k, v: [B, L, N, D] -> [B, Lq, N, D]; keys past k_lens are masked out.
        assert not causal and window_size == (-1, -1)
        qt, kt, vt = (t.transpose(1, 2) for t in (q, k, v))
        mask = None
        if k_lens is not None:
            ar = torch.arange(k.shape[1])
            mask = (ar[None, :] < k_lens[:, None])[:, None, None, :]
        out = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=mask, scale=softmax_scale)
        return out.transpose(1, 2).contiguous()

    mod.flash_attention = flash_attention
    mod.attention = flash_attention
    return mod


def load(module_name):
    """Returns `wan/modules/<module_name>.py` of the installed wan22 wheel as a module."""
    global _PKG
    if _PKG is None:
        spec = importlib.util.find_spec("wan")
        src = os.path.join(os.path.dirname(spec.origin), "modules")
        root = tempfile.mkdtemp(prefix="wanref-")
        pkg = os.path.join(root, "wanref", "modules")
        os.makedirs(pkg)
        open(os.path.join(root, "wanref", "__init__.py"), "w").close()
        open(os.path.join(pkg, "__init__.py"), "w").close()
        for name in ("model.py", "t5.py", "tokenizers.py", "vae2_1.py"):
            shutil.copy(os.path.join(src, name), pkg)
        sys.path.insert(0, root)
        torch.cuda.current_device = lambda: 0
        sys.modules["wanref.modules.attention"] = _attention_module()
        _PKG = root
    return importlib.import_module(f"wanref.modules.{module_name}")
