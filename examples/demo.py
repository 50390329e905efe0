"""The SWIG memory-deallocation recipe's two demonstrations, run through the
ezalloc library: first with the SWIG module ezalloc.recipe, then with the
ctypes module ezalloc.recipe_ctypes.

1. Allocation: 2048 arrays of 1024*1024 C ints (4 MiB each) are allocated
   and dropped, each in a child process whose address space is capped
   (RLIMIT_AS) at its size after start-up plus a stated headroom. Managed
   arrays free their block when dropped, so all 2048 fit ("Done!"); leaking
   arrays never do, so the allocations fail once the headroom is used up
   ("Step N failed": the expected result of the leaking run, the leak the
   recipe warns about). Every array is filled so that its pages are resident,
   and the peak resident memory (ru_maxrss) of each child is reported.
2. Crop: the recipe's non-contiguous 5x9 array, cropped to rows 2:4 and
   columns 1:5, compared with numpy's own slicing.
3. ezalloc.crop(a, key), numpy's a[key].copy() for any dtype and layout:
   windows of an image-like RGB array (uint8, 3000x4000x3), beside numpy,
   then other dtypes and layouts, and what it refuses.

    python examples/demo.py [--headroom-mib N]    (ezalloc installed: `make demo`)
"""

import argparse
import os
import resource
import subprocess
import sys

N_ALLOCATIONS = 2048
N_INTS = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")


def front_end(name):
    if name == "swig":
        from ezalloc import recipe
        return recipe.alloc_managed, recipe.alloc_leaking, recipe.crop
    from ezalloc import recipe_ctypes
    return recipe_ctypes.alloc_managed, recipe_ctypes.alloc_leaking, recipe_ctypes.crop


def allocation_child(front, variant, headroom_mib, touch):
    """Runs in the child: caps the address space, then allocates and drops."""
    alloc_managed, alloc_leaking, _ = front_end(front)
    alloc = alloc_managed if variant == "managed" else alloc_leaking
    with open("/proc/self/statm") as f:
        start = int(f.read().split()[0]) * PAGE
    cap = start + headroom_mib * (1 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    print(f"address space capped at {cap >> 20} MiB "
          f"({start >> 20} MiB after start-up + {headroom_mib} MiB)")
    for i in range(N_ALLOCATIONS):
        try:
            a = alloc(N_INTS)
            if touch:
                a.fill(i)
            del a
        except MemoryError:
            print(f"Step {i} failed")
            break
    else:
        print("Done!")
    with open("/proc/self/status") as f:
        hwm = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
    print(f"vmhwm_kib={hwm}")


def run_child(front, variant, headroom_mib, touch=True):
    """Runs allocation_child in a child process. Returns its output, its
    ru_maxrss and its VmHWM (KiB). ru_maxrss also counts what the child had
    before exec (its parent's pages), VmHWM only what it had after."""
    args = [sys.executable, os.path.abspath(__file__), "--child", front, variant,
            "--headroom-mib", str(headroom_mib)]
    if not touch:
        args.append("--no-touch")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    child = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)
    output = child.stdout.read()
    child.stdout.close()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{args} exited with {child.returncode}:\n{output}")
    lines = output.splitlines()
    vmhwm_kib = int(lines[-1].removeprefix("vmhwm_kib="))
    return "\n".join(lines[:-1]), usage.ru_maxrss, vmhwm_kib


def allocation_demo(front, headroom_mib, peaks):
    if front == "swig":
        variants = [("managed", "ARGOUTVIEWM_ARRAY1 (managed arrays)"),
                    ("leaking", "ARGOUTVIEW_ARRAY1 (unmanaged, leaking)")]
    else:
        variants = [("managed", "alloc_managed (managed arrays)"),
                    ("leaking", "alloc_leaking (unmanaged, leaking)")]
    for variant, title in variants:
        print(f"{title} - {N_ALLOCATIONS} allocations ({4 * N_INTS} bytes each)")
        output, peak_kib, _ = run_child(front, variant, headroom_mib)
        print(output.rstrip())
        last = output.strip().splitlines()[-1]
        if variant == "leaking" and last.startswith("Step "):
            print(f"-> \"{last}\" is the expected result of this run: alloc_leaking's "
                  "arrays only view their blocks, so nothing frees them, and the "
                  f"leaked {4 * N_INTS >> 20} MiB blocks fill the {headroom_mib} MiB "
                  "headroom long before the 2048th allocation. That leak is what the "
                  "managed variant (the run above) avoids.")
        elif variant == "managed" and last != "Done!":
            raise SystemExit(f"unexpected: the managed run failed ({last})")
        print(f"peak resident memory of this run: {peak_kib // 1024} MiB")
        print()
        peaks.append((front, variant, output.strip().splitlines()[-1], peak_kib))


def recipe_array():
    import numpy
    a = numpy.zeros((5, 10), numpy.intc)
    a[numpy.arange(5), :] = numpy.arange(10)
    b = numpy.transpose([(10 ** numpy.arange(5))]).astype(numpy.intc)
    return (a * b)[:, 1:]          # most likely NOT contiguous


def crop_demo(front):
    import numpy
    crop = front_end(front)[2]
    a = recipe_array()
    print(a)
    print(f"dim1={a.shape[0]} dim2={a.shape[1]} (C-contiguous: {a.flags.c_contiguous})")
    d1_0, d1_1, d2_0, d2_1 = 2, 4, 1, 5
    c = crop(a, d1_0, d1_1, d2_0, d2_1)
    d = a[d1_0:d1_1, d2_0:d2_1]
    print(f"crop(a, {d1_0}, {d1_1}, {d2_0}, {d2_1}) returned array:")
    print(c)
    print("native slicing:")
    print(d)
    assert c.dtype == d.dtype and numpy.array_equal(c, d)
    print("equal: yes")
    print()


def image_like(height=3000, width=4000):
    """An RGB photograph stand-in, uint8 H x W x 3: a sky gradient, a sun, a
    horizon and sensor noise."""
    import numpy
    y = numpy.linspace(0.0, 1.0, height, dtype=numpy.float32)[:, None]
    x = numpy.linspace(0.0, 1.0, width, dtype=numpy.float32)[None, :]
    img = numpy.empty((height, width, 3), numpy.float32)
    img[..., 0] = 60 + 120 * y + 20 * x
    img[..., 1] = 110 + 80 * y
    img[..., 2] = 230 - 120 * y
    sun = (x - 0.7) ** 2 + ((y - 0.25) * height / width) ** 2 < 0.004
    img[sun] = (255, 230, 120)
    img[(y > 0.65).repeat(width, axis=1)] *= (0.45, 0.6, 0.3)
    img += numpy.random.default_rng(0).normal(0, 4, img.shape).astype(numpy.float32)
    return numpy.clip(img, 0, 255).astype(numpy.uint8)


def best_of(call, repeat=5):
    import time
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - t)
    return best


def crop_any_demo():
    """ezalloc.crop(a, key): numpy's a[key].copy() for any dtype and layout."""
    import numpy
    import ezalloc
    print("=" * 72)
    print("ezalloc.crop(a, key): numpy's a[key].copy(), copied by the library")
    print("=" * 72)
    img = image_like()
    print(f"image: {img.shape} {img.dtype}, {img.nbytes / 2**20:.1f} MiB")
    cases = [
        ("window", numpy.s_[400:2600, 500:3700]),
        ("every 2nd pixel", numpy.s_[::2, ::2]),
        ("RGB -> BGR, upside down", numpy.s_[::-1, :, ::-1]),
        ("green channel of a window", numpy.s_[1000:2000, 2000:3500, 1]),
        ("one pixel row, Ellipsis", numpy.s_[1500, ...]),
    ]
    for label, key in cases:
        c = ezalloc.crop(img, key)
        n = img[key].copy()
        assert c.dtype == n.dtype and c.shape == n.shape and numpy.array_equal(c, n)
        t_ez, t_np = best_of(lambda: ezalloc.crop(img, key)), best_of(lambda: img[key].copy())
        print(f"  {label:<27} -> {str(c.shape):<16} equal to numpy: yes   "
              f"ezalloc {t_ez * 1e3:8.3f} ms, numpy {t_np * 1e3:8.3f} ms")
    c = ezalloc.crop(img, numpy.s_[400:2600, 500:3700])
    print(f"  the result: C-contiguous {c.flags.c_contiguous}, writeable {c.flags.writeable}, "
          f"its block owned by {type(c.base).__name__} {c.base!r:.32}...")
    print(f"  first pixels of the window: {c[0, :3].tolist()} (numpy: "
          f"{img[400, 500:503].tolist()})")
    # Other dtypes and layouts.
    matrix = numpy.asfortranarray(numpy.random.default_rng(1).standard_normal((2000, 1500)))
    dates = (numpy.datetime64("2024-01-01", "D") + numpy.arange(13 * 28)).reshape(13, 28)
    record = numpy.zeros(6, dtype=[("id", ">u4"), ("xy", "<f4", (2,)), ("tag", "S4")])
    record["id"] = numpy.arange(6)
    record["tag"] = b"ab"
    for label, a, key in [("Fortran-order float64, transposing copy", matrix, numpy.s_[100:900, 50:1450]),
                          ("datetime64[D], every 7th day", dates, numpy.s_[:, ::7]),
                          ("big-endian structured records", record, numpy.s_[4:0:-2])]:
        c = ezalloc.crop(a, key)
        assert c.dtype == a.dtype and numpy.array_equal(c, a[key])
        print(f"  {label:<42} -> {c.shape} {c.dtype}: equal to numpy: yes")
    print(f"  e.g. {ezalloc.crop(dates, numpy.s_[0, ::7]).tolist()}")
    for key in ([0, 1], numpy.s_[..., ...], numpy.s_[::0]):
        try:
            ezalloc.crop(img, key)
        except (TypeError, IndexError, ValueError) as e:
            print(f"  ezalloc.crop(img, {key!r}) -> {type(e).__name__}: {e}")
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--headroom-mib", type=int, default=1024,
                        help="address space allowed beyond the child's start-up size (default 1024)")
    parser.add_argument("--child", nargs=2, metavar=("FRONT_END", "VARIANT"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--no-touch", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        allocation_child(*args.child, args.headroom_mib, touch=not args.no_touch)
        return

    peaks = []
    for front, title in [("swig", "SWIG module (ezalloc.recipe)"),
                         ("ctypes", "ctypes module (ezalloc.recipe_ctypes)")]:
        print("=" * 72)
        print(f"{title} over the Rust library")
        print("=" * 72)
        allocation_demo(front, args.headroom_mib, peaks)
        crop_demo(front)

    crop_any_demo()

    print("Peak resident memory (ru_maxrss) of each allocation run:")
    for front, variant, result, peak_kib in peaks:
        print(f"  {front:7} {variant:8} {result:18} {peak_kib // 1024:6} MiB")


if __name__ == "__main__":
    main()
