"""One CUDA-event timer for the benches in scripts/cuda (GPU machine; torch)."""


def median_ms(fn, repeat=20, warmup=1):
    """Median milliseconds of fn() over `repeat` runs after `warmup`, each between two CUDA events on the
    current stream and waited for (so one run's queue never hides in the next one's time)."""
    import torch
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]
