#!/usr/bin/env python3
"""cuDNN's graph (backend) API against its legacy API and PyTorch on the VAE's convolutions, on the
GPU machine without Swift: which engine configurations the graph API offers, how fast each is, and
whether asymmetric (causal) time padding and a fused bias remove our copies around the call.

    python3 scripts/cuda/bench_cudnn_graph.py [--configs 8] [--repeat 10] [--cases res96,head]

The engine's cuDNN path (Sources/BackendCUDA/CUDABackend+Cudnn.swift) uses the legacy
`cudnnConvolutionForward` with the v7 heuristic's first algorithm on channels-last operands, symmetric
padding (the causal frames are zero frames in the copy), then a transposing epilogue adds the bias.
For each VAE shape (480p decode) this prints, in ms (CUDA events, median of --repeat after a warm-up):
- torch: F.conv3d on NCDHW and on channels_last_3d (cudnn.benchmark on), the reference's own path;
- graph: the engine configurations of heuristic modes instant, A and fallback (up to --configs each)
  on the same channels-last operands with symmetric padding, y in bf16 and in f32 (the sums are
  fp32 either way; cuDNN 9.19's mode B failed internally on an H100), then the best of them again with the time padding as
  (2, 0) pre/post paddings on the unpadded frames, and with the bias added by a fused pointwise op;
each with its NMSE against an fp32 torch convolution, so a fast but wrong configuration shows.
Run `turbodiffusion bench conv --device cuda --engine both …` in the same call for the engine's own
times (legacy API, copies included) on the same shapes.
Constants are cuDNN 9's (cudnn_graph.h; stable since 9.0). Needs torch with CUDA and libcudnn.so.9.
"""
import argparse, ctypes, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_timing import median_ms  # noqa: E402

CASES = {  # name: (C in, C out, kernel, frames in (with the 2 causal frames), H, W)
    "res384": (384, 384, (3, 3, 3), 3, 60, 104),
    "res384x2": (384, 384, (3, 3, 3), 4, 120, 208),
    "res192": (192, 192, (3, 3, 3), 6, 240, 416),
    "res96": (96, 96, (3, 3, 3), 6, 480, 832),
    "up192to96": (192, 96, (1, 3, 3), 4, 480, 832),
    "head": (96, 3, (3, 3, 3), 6, 480, 832),
}

# cudnn_graph.h values.
DESC = dict(POINTWISE=0, CONVOLUTION=1, ENGINECFG=3, ENGINEHEUR=4, EXECUTION_PLAN=5, OP_CONV_FWD=10,
            OP_POINTWISE=13, OPERATIONGRAPH=15, VARIANT_PACK=16, TENSOR=17)
T_HANDLE, T_DATA_TYPE, T_BOOLEAN, T_INT64, T_FLOAT, T_VOID_PTR, T_CONV_MODE, T_HEUR_MODE = 0, 1, 2, 3, 4, 6, 7, 8
T_POINTWISE_MODE, T_BACKEND_DESCRIPTOR, T_CHAR = 14, 15, 24
A = dict(POINTWISE_MODE=0, POINTWISE_MATH_PREC=1,
         CONV_COMP_TYPE=100, CONV_MODE=101, CONV_DILATIONS=102, CONV_STRIDES=103, CONV_POST_PAD=104, CONV_PRE_PAD=105,
         CONV_SPATIAL_DIMS=106, HEUR_MODE=200, HEUR_GRAPH=201, HEUR_RESULTS=202,
         PLAN_HANDLE=400, PLAN_CONFIG=401, PLAN_WORKSPACE=402, PLAN_JSON=405,
         OP_PW_DESC=750, OP_PW_X=751, OP_PW_B=752, OP_PW_Y=753,
         OP_CONV_ALPHA=700, OP_CONV_BETA=701, OP_CONV_DESC=702, OP_CONV_W=703, OP_CONV_X=704, OP_CONV_Y=705,
         GRAPH_HANDLE=800, GRAPH_OPS=801, T_ALIGN=900, T_DTYPE=901, T_DIMS=902, T_STRIDES=903, T_UID=906, T_VIRTUAL=907,
         VP_UIDS=1000, VP_PTRS=1001, VP_WORKSPACE=1003)
BF16, F32 = 9, 0
CROSS_CORRELATION, POINTWISE_ADD = 1, 0
HEUR_INSTANT, HEUR_B, HEUR_FALLBACK, HEUR_A = 0, 1, 2, 3


class Cudnn:
    def __init__(self, torch):
        self.lib = ctypes.CDLL("libcudnn.so.9")
        self.lib.cudnnGetErrorString.restype = ctypes.c_char_p
        self.h = ctypes.c_void_p()
        self.check(self.lib.cudnnCreate(ctypes.byref(self.h)), "cudnnCreate")
        self.check(self.lib.cudnnSetStream(self.h, ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)), "cudnnSetStream")

    def check(self, status, what):
        if status != 0:
            raise RuntimeError(f"{what}: {status} {self.lib.cudnnGetErrorString(status).decode()}")

    def create(self, kind):
        d = ctypes.c_void_p()
        self.check(self.lib.cudnnBackendCreateDescriptor(DESC[kind], ctypes.byref(d)), f"create {kind}")
        return d

    def set(self, d, name, type_, values):
        ctype = {T_INT64: ctypes.c_int64, T_FLOAT: ctypes.c_float, T_DATA_TYPE: ctypes.c_int, T_CONV_MODE: ctypes.c_int,
                 T_HEUR_MODE: ctypes.c_int, T_POINTWISE_MODE: ctypes.c_int, T_BOOLEAN: ctypes.c_bool,
                 T_VOID_PTR: ctypes.c_void_p, T_BACKEND_DESCRIPTOR: ctypes.c_void_p, T_HANDLE: ctypes.c_void_p}[type_]
        vals = [v.value if isinstance(v, ctypes.c_void_p) else v for v in values]
        arr = (ctype * len(vals))(*vals)
        self.check(self.lib.cudnnBackendSetAttribute(d, A[name], type_, ctypes.c_int64(len(vals)), arr), f"set {name}")

    def finalize(self, d, what):
        self.check(self.lib.cudnnBackendFinalize(d), f"finalize {what}")

    def tensor(self, uid, dims, strides, dtype, virtual=False):
        d = self.create("TENSOR")
        self.set(d, "T_DTYPE", T_DATA_TYPE, [dtype])
        self.set(d, "T_DIMS", T_INT64, dims)
        self.set(d, "T_STRIDES", T_INT64, strides)
        self.set(d, "T_UID", T_INT64, [uid])
        self.set(d, "T_ALIGN", T_INT64, [16])
        if virtual:
            self.set(d, "T_VIRTUAL", T_BOOLEAN, [True])
        self.finalize(d, f"tensor {uid} {dims}")
        return d

    def configs(self, graph, mode, limit):
        heur = self.create("ENGINEHEUR")
        self.set(heur, "HEUR_GRAPH", T_BACKEND_DESCRIPTOR, [graph])
        self.set(heur, "HEUR_MODE", T_HEUR_MODE, [mode])
        self.finalize(heur, "heuristics")
        count = ctypes.c_int64()
        self.check(self.lib.cudnnBackendGetAttribute(heur, A["HEUR_RESULTS"], T_BACKEND_DESCRIPTOR, ctypes.c_int64(0),
                                                     ctypes.byref(count), None), "heuristic count")
        n = min(count.value, limit)
        if n == 0:
            raise RuntimeError(f"heuristics mode {mode} offer no engine configuration for this graph")
        cfgs = [self.create("ENGINECFG") for _ in range(n)]
        arr = (ctypes.c_void_p * n)(*[c.value for c in cfgs])
        got = ctypes.c_int64()
        self.check(self.lib.cudnnBackendGetAttribute(heur, A["HEUR_RESULTS"], T_BACKEND_DESCRIPTOR, ctypes.c_int64(n),
                                                     ctypes.byref(got), arr), "heuristic results")
        if got.value == 0:
            raise RuntimeError(f"heuristics mode {mode} counted {count.value} configurations but returned none")
        return cfgs[:got.value]

    def plan(self, cfg):
        p = self.create("EXECUTION_PLAN")
        self.set(p, "PLAN_HANDLE", T_HANDLE, [self.h])
        self.set(p, "PLAN_CONFIG", T_BACKEND_DESCRIPTOR, [cfg])
        self.finalize(p, "plan")
        ws = ctypes.c_int64()
        n = ctypes.c_int64()
        self.check(self.lib.cudnnBackendGetAttribute(p, A["PLAN_WORKSPACE"], T_INT64, ctypes.c_int64(1), ctypes.byref(n),
                                                     ctypes.byref(ws)), "workspace")
        name = ""
        try:
            buf = ctypes.create_string_buffer(4096)
            self.check(self.lib.cudnnBackendGetAttribute(p, A["PLAN_JSON"], T_CHAR, ctypes.c_int64(4096), ctypes.byref(n), buf),
                       "json")
            name = buf.value.decode(errors="replace")
        except RuntimeError:
            pass
        return p, ws.value, name

    def execute(self, plan, uids, pointers, workspace):
        vp = self.create("VARIANT_PACK")
        self.set(vp, "VP_UIDS", T_INT64, uids)
        self.set(vp, "VP_PTRS", T_VOID_PTR, pointers)
        self.set(vp, "VP_WORKSPACE", T_VOID_PTR, [workspace])
        self.finalize(vp, "variant pack")
        return lambda: self.check(self.lib.cudnnBackendExecute(self.h, plan, vp), "execute")


def channels_last(dims):
    n, c, t, h, w = dims
    return [t * h * w * c, 1, h * w * c, w * c, c]


def graph_conv(cd, x_dims, w_dims, y_dims, pre, post, bias, y_type):
    """The operation graph of one convolution (plus a fused bias add when `bias`) with y in `y_type`
    (BF16 or F32; the sums are fp32 either way): uids 1 x, 2 w, 3 y, 4 bias."""
    ops = []
    xd = cd.tensor(1, x_dims, channels_last(x_dims), BF16)
    wd = cd.tensor(2, w_dims, channels_last(w_dims), BF16)
    conv = cd.create("CONVOLUTION")
    cd.set(conv, "CONV_COMP_TYPE", T_DATA_TYPE, [F32])
    cd.set(conv, "CONV_MODE", T_CONV_MODE, [CROSS_CORRELATION])
    cd.set(conv, "CONV_SPATIAL_DIMS", T_INT64, [3])
    cd.set(conv, "CONV_DILATIONS", T_INT64, [1, 1, 1])
    cd.set(conv, "CONV_STRIDES", T_INT64, [1, 1, 1])
    cd.set(conv, "CONV_PRE_PAD", T_INT64, pre)
    cd.set(conv, "CONV_POST_PAD", T_INT64, post)
    cd.finalize(conv, "convolution")
    conv_out = cd.tensor(5 if bias else 3, y_dims, channels_last(y_dims), F32 if bias else y_type, virtual=bias)
    op = cd.create("OP_CONV_FWD")
    cd.set(op, "OP_CONV_X", T_BACKEND_DESCRIPTOR, [xd])
    cd.set(op, "OP_CONV_W", T_BACKEND_DESCRIPTOR, [wd])
    cd.set(op, "OP_CONV_Y", T_BACKEND_DESCRIPTOR, [conv_out])
    cd.set(op, "OP_CONV_DESC", T_BACKEND_DESCRIPTOR, [conv])
    cd.set(op, "OP_CONV_ALPHA", T_FLOAT, [1.0])
    cd.set(op, "OP_CONV_BETA", T_FLOAT, [0.0])
    cd.finalize(op, "conv op")
    ops.append(op)
    if bias:
        bd = cd.tensor(4, [1, y_dims[1], 1, 1, 1], [y_dims[1], 1, 1, 1, 1], F32)
        yd = cd.tensor(3, y_dims, channels_last(y_dims), y_type)
        pw = cd.create("POINTWISE")
        cd.set(pw, "POINTWISE_MODE", T_POINTWISE_MODE, [POINTWISE_ADD])
        cd.set(pw, "POINTWISE_MATH_PREC", T_DATA_TYPE, [F32])
        cd.finalize(pw, "pointwise")
        add = cd.create("OP_POINTWISE")
        cd.set(add, "OP_PW_DESC", T_BACKEND_DESCRIPTOR, [pw])
        cd.set(add, "OP_PW_X", T_BACKEND_DESCRIPTOR, [conv_out])
        cd.set(add, "OP_PW_B", T_BACKEND_DESCRIPTOR, [bd])
        cd.set(add, "OP_PW_Y", T_BACKEND_DESCRIPTOR, [yd])
        cd.finalize(add, "bias op")
        ops.append(add)
    graph = cd.create("OPERATIONGRAPH")
    cd.set(graph, "GRAPH_OPS", T_BACKEND_DESCRIPTOR, ops)
    cd.set(graph, "GRAPH_HANDLE", T_HANDLE, [cd.h])
    cd.finalize(graph, "operation graph")
    return graph


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", type=int, default=8, help="engine configurations tried per heuristic mode")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--cases", default=",".join(CASES))
    args = ap.parse_args()
    import torch
    import torch.nn.functional as F
    torch.backends.cudnn.benchmark = True
    print("torch", torch.__version__, "cudnn", torch.backends.cudnn.version(), torch.cuda.get_device_name(), flush=True)
    cd = Cudnn(torch)
    workspace = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")

    timeit = lambda f: median_ms(f, args.repeat)

    def nmse(a, b):
        return float(((a.float() - b.float()) ** 2).sum() / (b.float() ** 2).sum())

    def try_configs(graph, mode, uids, ptrs, y, want):
        """Per engine configuration of heuristic `mode`: (ms, index, nmse against `want` or the error,
        workspace MiB, engine). Each runs once on a NaN-filled y and is checked before it is timed."""
        results = []
        for i, cfg in enumerate(cd.configs(graph, mode, args.configs)):
            try:
                plan, ws, json = cd.plan(cfg)
                if ws > workspace.numel():
                    results.append((float("inf"), i, f"needs {ws >> 20} MiB of workspace, skipped", ws >> 20, ""))
                    continue
                run = cd.execute(plan, uids, ptrs, workspace.data_ptr())
                y.fill_(float("nan"))
                run()
                torch.cuda.synchronize()
                err = nmse(y.permute(0, 4, 1, 2, 3), want)
                results.append((timeit(run), i, err, ws >> 20, json[:90].replace("\n", " ")))
            except RuntimeError as e:
                results.append((float("inf"), i, str(e), 0, ""))
        return results

    correct = lambda r: isinstance(r[2], float) and r[2] < 1e-4

    failures = 0
    for name in args.cases.split(","):
        c, o, k, t, h, w = CASES[name]
        g = torch.Generator(device="cuda").manual_seed(0)
        x = torch.randn(1, c, t, h, w, device="cuda", generator=g).bfloat16()
        wt = (torch.randn(o, c, *k, device="cuda", generator=g) / (c * k[0] * k[1] * k[2]) ** 0.5).bfloat16()
        bias = torch.randn(o, device="cuda", generator=g)
        pad = (0, k[1] // 2, k[2] // 2)
        ref = F.conv3d(x.float(), wt.float(), padding=pad)
        to, ho, wo = ref.shape[2:]
        gflop = 2 * o * to * ho * wo * c * k[0] * k[1] * k[2] / 1e9
        xc3 = x.contiguous(memory_format=torch.channels_last_3d)
        wc3 = wt.contiguous(memory_format=torch.channels_last_3d)
        print(f"== {name}: [{c},{t},{h},{w}] -> {o}, kernel {k}, {gflop:.0f} GFLOP", flush=True)
        print(f"   torch NCDHW {timeit(lambda: F.conv3d(x, wt, padding=pad)):7.3f} ms   "
              f"channels_last_3d {timeit(lambda: F.conv3d(xc3, wc3, padding=pad)):7.3f} ms", flush=True)
        xcl, wcl = xc3.permute(0, 2, 3, 4, 1).contiguous(), wc3.permute(0, 2, 3, 4, 1).contiguous()
        ys = {BF16: torch.empty(1, to, ho, wo, o, device="cuda", dtype=torch.bfloat16),
              F32: torch.empty(1, to, ho, wo, o, device="cuda", dtype=torch.float32)}
        x_dims, w_dims, y_dims = [1, c, t, h, w], [o, c, *k], [1, o, to, ho, wo]
        best = None
        for y_type, y_name in ((BF16, "bf16"), (F32, "f32")):
            for label, mode in (("instant", HEUR_INSTANT), ("A", HEUR_A), ("fallback", HEUR_FALLBACK)):
                try:
                    graph = graph_conv(cd, x_dims, w_dims, y_dims, list(pad), list(pad), bias=False, y_type=y_type)
                    results = try_configs(graph, mode, [1, 2, 3], [xcl.data_ptr(), wcl.data_ptr(), ys[y_type].data_ptr()],
                                          ys[y_type], ref)
                except RuntimeError as e:
                    print(f"   graph y {y_name} {label}: {e}", flush=True)
                    continue
                for ms, i, err, ws, engine in results:
                    if not isinstance(err, float):
                        print(f"   graph y {y_name} {label}{i}: {err}", flush=True)
                        continue
                    print(f"   graph y {y_name} {label}{i}: {ms:7.3f} ms ({gflop / ms:6.1f} TFLOP/s) nmse {err:.1e} ws {ws} MiB {engine}",
                          flush=True)
                    if correct((ms, i, err)) and (best is None or ms < best[0]):
                        best = (ms, f"y {y_name} {label}", i, mode, y_type)
        if best is None:
            print("   no graph configuration ran correctly")
            failures += 1
            continue
        print(f"   best graph configuration: {best[1]} {best[2]} {best[0]:.3f} ms", flush=True)
        y = ys[best[4]]
        # Causal time padding as pre/post paddings on the real frames (no zero frames in the operand),
        # and the bias fused; each with the first configurations of the best one's heuristic mode.
        real = xcl[:, 2:].contiguous() if k[0] == 3 else xcl
        causal_ref = ref
        if k[0] == 3:  # the first two frames become cuDNN's zero padding
            causal_ref = F.conv3d(torch.cat([torch.zeros_like(x[:, :, :2]), x[:, :, 2:]], dim=2).float(), wt.float(), padding=pad)
        for label, x_op, pre, fused in (("causal pre/post", real, [2 if k[0] == 3 else 0, *pad[1:]], False),
                                         ("bias fused", xcl, list(pad), True)):
            try:
                xd = [1, c, x_op.shape[1], h, w]
                graph = graph_conv(cd, xd, w_dims, y_dims, pre, [0, *pad[1:]] if label.startswith("causal") else list(pad), bias=fused,
                                   y_type=best[4])
                uids, ptrs = [1, 2, 3], [x_op.data_ptr(), wcl.data_ptr(), y.data_ptr()]
                if fused:
                    uids.append(4)
                    ptrs.append(bias.data_ptr())
                want = ref + bias.view(1, -1, 1, 1, 1) if fused else causal_ref
                results = try_configs(graph, best[3], uids, ptrs, y, want)
                ok = [r[:3] for r in results if correct(r)]
                if ok:
                    ms, i, err = min(ok)
                    print(f"   {label}: {ms:7.3f} ms (configuration {i}, nmse {err:.1e}; {len(ok)} of {len(results)} correct)", flush=True)
                else:
                    print(f"   {label}: no correct configuration: {[r[:3] for r in results[:3]]}", flush=True)
            except RuntimeError as e:
                print(f"   {label}: {e}", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
