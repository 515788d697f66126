"""Golden trajectories of TurboDiffusion's rCM sampler on a tiny model with injected noise.

The loop is upstream's (turbodiffusion/inference/wan2.1_t2v_infer.py), transcribed: TrigFlow
times s = [atan(sigma_max), 1.5, 1.4, 1.0][:steps] + [0] become r = sin s / (sin s + cos s);
x = r0 * eps0 in float64; each step calls the network with timestep 1000*r rounded to bf16,
x0 = x - r_i * v, then SDE: x = (1 - r_next) * x0 + r_next * eps_i, or ODE: x = x - (r_i - r_next) * v.
The network is the tiny reference WanModel of dit_t2v_hd64 (fp32), so the Swift test runs the same
loop through our WanDiT.

Run with the pinned environment:  python scripts/reference/make_sampler_fixtures.py
Writes Tests/ModelsTests/Fixtures/sampler_<case>.safetensors.
"""
import math
import os

import torch
from safetensors.torch import load_file, save_file

import wan_reference

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ModelsTests", "Fixtures")

# name, steps, sigma_max, mode
CASES = [("sde4", 4, 80.0, "sde"), ("sde2", 2, 200.0, "sde"), ("ode3", 3, 80.0, "ode"), ("sde1", 1, 80.0, "sde")]


def schedule(steps, sigma_max):
    s = torch.tensor([math.atan(sigma_max), *[1.5, 1.4, 1.0][:steps - 1], 0], dtype=torch.float64)
    return torch.sin(s) / (torch.cos(s) + torch.sin(s))


def main():
    model_mod = wan_reference.load("model")
    net = model_mod.WanModel(model_type="t2v", patch_size=(1, 2, 2), freq_dim=256, eps=1e-6, cross_attn_norm=True,
                             dim=128, ffn_dim=192, num_heads=2, num_layers=2, in_dim=16, out_dim=16, text_dim=32,
                             text_len=16).eval()
    net.load_state_dict({k: v.float() for k, v in load_file(os.path.join(FIX, "dit_t2v_hd64.safetensors")).items()})
    context = load_file(os.path.join(FIX, "dit_t2v_hd64_io.safetensors"))["context"]
    shape = (16, 3, 4, 6)
    seq_len = shape[1] * shape[2] // 2 * shape[3] // 2
    for n, (name, steps, sigma_max, mode) in enumerate(CASES):
        gen = torch.Generator().manual_seed(100 + n)
        r = schedule(steps, sigma_max)
        noise = [torch.randn(*shape, generator=gen) for _ in range(steps + 1)]   # eps0, then one per step
        x = noise[0].to(torch.float64) * r[0]
        timesteps = []
        for i in range(steps):
            t = (r[i] * 1000).to(torch.bfloat16)
            timesteps.append(float(t))
            with torch.no_grad():
                v = net([x.float()], t=t.float().reshape(1), context=[context], seq_len=seq_len)[0].to(torch.float64)
            if mode == "sde":
                x = (x - v * r[i]) * (1 - r[i + 1]) + noise[i + 1].to(torch.float64) * r[i + 1]
            else:
                x = x - v * (r[i] - r[i + 1])
        out = {"noise": torch.stack(noise), "out": x.float(), "timesteps": torch.tensor(timesteps, dtype=torch.float32),
               "r": r.float(), "settings": torch.tensor([steps, sigma_max, 1.0 if mode == "ode" else 0.0])}
        save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(FIX, f"sampler_{name}.safetensors"))
        print(f"{name}: timesteps {timesteps} |out| {x.norm():.4f}")


if __name__ == "__main__":
    main()
