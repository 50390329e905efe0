"""What the ezalloc library does, shown step by step (`make demo`).

The library hands arrays allocated in C (with malloc) to Python, so that
the memory is freed when the numpy array is deleted. It re-implements the
two C functions of the SciPy Cookbook recipe "SWIG memory deallocation",
alloc() and crop(), and adds ezalloc.crop(a, key). Python reaches it
through two front ends with the same functions: ezalloc.recipe (a SWIG
module) and ezalloc.recipe_ctypes (ctypes).

Part 1. Memory that is freed, memory that leaks: 2048 arrays of 4 MiB,
        each deleted at once, under a memory limit.
Part 2. Cropping a 2-D int array with the recipe's crop().
Part 3. ezalloc.crop(a, key): numpy's a[key].copy() for any array.
Part 4. The threads that large copies use: get_threads(), set_threads().

Each part says what it shows before it runs.

    python examples/demo.py [--headroom-mib N]    (ezalloc installed: `make demo`)
"""

import argparse
import os
import textwrap
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
    print(f"this process may use {headroom_mib} MiB of address space beyond the "
          f"{start >> 20} MiB it had at start-up (RLIMIT_AS {cap >> 20} MiB)")
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


FRONT_ENDS = [("swig", "SWIG module ezalloc.recipe"),
              ("ctypes", "ctypes module ezalloc.recipe_ctypes")]


def heading(title):
    print()
    print("=" * 76)
    print(title)
    print("=" * 76)


def say(text):
    """Plain words, before the part they describe runs."""
    for paragraph in textwrap.dedent(text).strip().split("\n\n"):
        print(textwrap.fill(" ".join(paragraph.split()), width=76))
        print()


def allocation_demo(headroom_mib):
    heading("Part 1. Memory that is freed, and memory that leaks")
    say(f"""
        alloc_managed(n) returns a numpy array of n C ints whose memory, a
        block from the C library's malloc(), is freed when the array is
        deleted: the array owns its block (in SWIG's numpy.i, the typemaps
        that do this are called ARGOUTVIEWM, "M" for managed).
        alloc_leaking(n) returns an array that only looks at its block
        (numpy.i's ARGOUTVIEW): nothing ever frees that block, which is the
        leak the recipe warns about.

        Each run below is a child process whose memory (address space) is
        limited to its size at start-up plus {headroom_mib} MiB. It calls
        alloc_*({N_INTS}), that is {N_INTS} ints = {4 * N_INTS >> 20} MiB,
        fills the array and deletes it, {N_ALLOCATIONS} times. Expected:
        the managed run prints "Done!"; the leaking run runs out of memory
        after about {headroom_mib * (1 << 20) // (4 * N_INTS)} arrays and
        prints "Step N failed". That failure is the expected result.""")
    peaks = []
    for front, title in FRONT_ENDS:
        for variant in ("managed", "leaking"):
            print(f"[{title}] alloc_{variant}({N_INTS}), {N_ALLOCATIONS} times:")
            output, peak_kib, _ = run_child(front, variant, headroom_mib)
            for line in output.strip().splitlines():
                print(f"  child: {line}")
            last = output.strip().splitlines()[-1]
            if variant == "managed":
                if last != "Done!":
                    raise SystemExit(f"unexpected: the managed run failed ({last})")
                print("  -> as expected: every block was freed with its array")
            elif last.startswith("Step "):
                print(f"  -> as expected: the leaked {4 * N_INTS >> 20} MiB blocks "
                      f"filled the {headroom_mib} MiB limit")
            else:
                raise SystemExit(f"unexpected: the leaking run did not fail ({last})")
            print(f"  peak resident memory of the child: {peak_kib // 1024} MiB")
            print()
            peaks.append((front, variant, last, peak_kib))
    print("Summary, peak resident memory (ru_maxrss) of each run:")
    for front, variant, result, peak_kib in peaks:
        print(f"  {front:7} {variant:8} {result:18} {peak_kib // 1024:6} MiB")


def recipe_array():
    import numpy
    a = numpy.zeros((5, 10), numpy.intc)
    a[numpy.arange(5), :] = numpy.arange(10)
    b = numpy.transpose([(10 ** numpy.arange(5))]).astype(numpy.intc)
    return (a * b)[:, 1:]          # most likely NOT contiguous


def crop_demo():
    import numpy
    from ezalloc import recipe, recipe_ctypes
    heading("Part 2. Cropping a 2-D int array with the recipe's crop()")
    say("""
        crop(a, d1_0, d1_1, d2_0, d2_1) returns a new array holding rows d1_0
        to d1_1 - 1 and columns d2_0 to d2_1 - 1 of the 2-D C int array a,
        the same as numpy's a[d1_0:d1_1, d2_0:d2_1], in a block from malloc()
        that the result owns. The recipe's rule applies: the window must end
        before the last row and the last column (d1_1 < rows and
        d2_1 < columns).

        The input is the recipe's 5 x 9 array, a view into a wider array
        (so not contiguous in memory: crop() copies it to a contiguous
        temporary first).""")
    a = recipe_array()
    print(f"the input a ({a.shape[0]} rows x {a.shape[1]} columns, "
          f"C-contiguous: {a.flags.c_contiguous}):")
    print(textwrap.indent(str(a), "  "))
    print()
    d1_0, d1_1, d2_0, d2_1 = 2, 4, 1, 5
    print(f"crop(a, {d1_0}, {d1_1}, {d2_0}, {d2_1}): rows {d1_0} to {d1_1 - 1} "
          f"(d1_0={d1_0}, d1_1={d1_1}), columns {d2_0} to {d2_1 - 1} "
          f"(d2_0={d2_0}, d2_1={d2_1})")
    want = a[d1_0:d1_1, d2_0:d2_1]
    for front, crop in (("SWIG", recipe.crop), ("ctypes", recipe_ctypes.crop)):
        c = crop(a, d1_0, d1_1, d2_0, d2_1)
        assert c.dtype == want.dtype and numpy.array_equal(c, want)
        print(f"  result through {front}:")
        print(textwrap.indent(str(c), "    "))
    print(f"  numpy's a[{d1_0}:{d1_1}, {d2_0}:{d2_1}]: the same (equal: yes)")
    print()
    print("a window that ends at the last row is refused (the recipe's rule):")
    try:
        recipe.crop(a, 0, 5, 0, 4)
    except IndexError as e:
        print(f"  crop(a, 0, 5, 0, 4) -> IndexError: {e}")


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


def shown_time(seconds):
    """A duration with 3 significant digits, in us below 1 ms."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:6.1f} us"
    return f"{seconds * 1e3:6.2f} ms"


def best_of(call, repeat=5):
    import time
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - t)
    return best


def crop_any_demo():
    import numpy
    import ezalloc
    heading("Part 3. ezalloc.crop(a, key): numpy's a[key].copy() for any array")
    say("""
        ezalloc.crop(a, key) returns the same array as numpy's a[key].copy():
        a is a numpy array of any dtype (except Python objects), any number
        of dimensions and any memory layout; key is what you would write
        between the brackets of a[...], built here with numpy.s_ (numpy.s_[1:3,
        ::2] is the key (slice(1, 3), slice(None, None, 2))): slices, integers
        and at most one Ellipsis (...). The library copies only the window,
        into a block from malloc() that the result owns.

        First an image-like RGB array (uint8, 3000 rows x 4000 columns x 3
        channels): each case is compared with numpy's copy, and both are
        timed (best of 5).""")
    img = image_like()
    print(f"image: shape {img.shape}, dtype {img.dtype}, {img.nbytes / 2**20:.1f} MiB")
    cases = [
        ("rows 400:2600, columns 500:3700", "np.s_[400:2600, 500:3700]",
         numpy.s_[400:2600, 500:3700]),
        ("every second pixel", "np.s_[::2, ::2]", numpy.s_[::2, ::2]),
        ("upside down, RGB -> BGR", "np.s_[::-1, :, ::-1]", numpy.s_[::-1, :, ::-1]),
        ("green channel of a window", "np.s_[1000:2000, 2000:3500, 1]",
         numpy.s_[1000:2000, 2000:3500, 1]),
        ("row 1500, all columns and channels", "np.s_[1500, ...]", numpy.s_[1500, ...]),
    ]
    print(f"  {'what':<35} {'key':<31} {'result shape':<16} {'ezalloc':>10} {'numpy':>10}"
          "  (best of 5 calls each)")
    for label, text, key in cases:
        c = ezalloc.crop(img, key)
        n = img[key].copy()
        assert c.dtype == n.dtype and c.shape == n.shape and numpy.array_equal(c, n)
        t_ez, t_np = best_of(lambda: ezalloc.crop(img, key)), best_of(lambda: img[key].copy())
        print(f"  {label:<35} {text:<31} {str(c.shape):<16} "
              f"{shown_time(t_ez):>10} {shown_time(t_np):>10}")
    print("  every result above is equal to numpy's: yes")
    c = ezalloc.crop(img, numpy.s_[400:2600, 500:3700])
    print(f"  the first result: C-contiguous {c.flags.c_contiguous}, writeable "
          f"{c.flags.writeable};")
    print(f"    its base, which frees the block when the last view of it dies: "
          f"{c.base!r:.31}...>")
    print(f"    its first 3 pixels:    {c[0, :3].tolist()}")
    print(f"    numpy's img[400, 500:503]: {img[400, 500:503].tolist()}")
    print()
    say("""
        Other dtypes and layouts: a float64 matrix stored column by column
        (Fortran order; the copy transposes it into row order), dates
        (datetime64) and structured records in big-endian byte order.""")
    matrix = numpy.asfortranarray(numpy.random.default_rng(1).standard_normal((2000, 1500)))
    c = ezalloc.crop(matrix, numpy.s_[100:900, 50:1450])
    assert numpy.array_equal(c, matrix[100:900, 50:1450])
    print(f"Fortran-order float64 {matrix.shape}, key np.s_[100:900, 50:1450]:")
    print(f"  result {c.shape} {c.dtype}, C-contiguous {c.flags.c_contiguous}, "
          "equal to numpy: yes")
    dates = (numpy.datetime64("2024-01-01", "D") + numpy.arange(13 * 28)).reshape(13, 28)
    c = ezalloc.crop(dates, numpy.s_[0, ::7])
    assert numpy.array_equal(c, dates[0, ::7])
    print(f"dates, datetime64[D] {dates.shape} (13 periods of 28 days), key np.s_[0, ::7]"
          " (every 7th day of the first period):")
    print(f"  result {numpy.datetime_as_string(c).tolist()}, equal to numpy: yes")
    record = numpy.zeros(6, dtype=[("id", ">u4"), ("xy", "<f4", (2,)), ("tag", "S4")])
    record["id"] = numpy.arange(6)
    record["tag"] = b"ab"
    c = ezalloc.crop(record, numpy.s_[4:0:-2])
    assert c.dtype == record.dtype and numpy.array_equal(c, record[4:0:-2])
    print(f"structured records {record.dtype}, key np.s_[4:0:-2] (from 4 down to 1, step -2):")
    print(f"  result ids {c['id'].tolist()}, dtype unchanged: {c.dtype == record.dtype}, "
          "equal to numpy: yes")
    print()
    say("""
        What it refuses, with the exception raised: lists and arrays as
        keys (numpy's "fancy" indexing, which ezalloc.crop does not do), a
        second Ellipsis, a step of 0.""")
    for text, key in (("[0, 1]", [0, 1]), ("np.s_[..., ...]", numpy.s_[..., ...]),
                      ("np.s_[::0]", numpy.s_[::0])):
        try:
            ezalloc.crop(img, key)
        except (TypeError, IndexError, ValueError) as e:
            print(f"  ezalloc.crop(img, {text}) -> {type(e).__name__}: {e}")


def threads_demo():
    import numpy
    import ezalloc
    heading("Part 4. The threads that large copies use")
    say("""
        Copies whose result is 96 KiB or more are split between several
        threads (the calling thread and the library's helper threads, which
        are started by the first copy of 1 MiB or more, or by copies that
        follow each other closely, kept for the next one and gone after
        200 ms without work); smaller ones run on the calling thread
        alone. ezalloc.get_threads()
        tells how many threads a large copy uses; ezalloc.set_threads(n) sets
        it for the whole process and returns the previous value (n = 1: the
        calling thread only; n = 0: back to the default, which is the
        environment variable EZALLOC_THREADS if it was set when the library
        was loaded, else the CPUs the process may use, at most 8; values
        above 64 set 64). A 17 MiB crop of the image (np.s_[500:2500,
        500:3500]) is timed (best of 5) with each setting.""")
    img = image_like()
    key = numpy.s_[500:2500, 500:3500]
    default = ezalloc.get_threads()
    env = os.environ.get("EZALLOC_THREADS")
    source = f"EZALLOC_THREADS={env}" if env else f"{len(os.sched_getaffinity(0))} CPUs available"
    print(f"ezalloc.get_threads() -> {default} (the default here; {source})")
    for n in sorted({1, 2, default}):
        previous = ezalloc.set_threads(n)
        t = best_of(lambda: ezalloc.crop(img, key))
        print(f"  ezalloc.set_threads({n}) -> returned {previous}; "
              f"get_threads() -> {ezalloc.get_threads()}; the crop: {shown_time(t).strip()}")
    previous = ezalloc.set_threads(0)
    print(f"  ezalloc.set_threads(0) -> returned {previous}; back to the default: "
          f"get_threads() -> {ezalloc.get_threads()}")
    say("""
        What this measured: the best of 5 calls of the same 17 MiB crop
        with each setting, on this machine as it is now. A second thread
        helps when a second CPU is free to run it and memory can feed both:
        on a machine with 2 CPUs, one of them busy with another process, or
        two CPUs that share one core, two threads may copy no faster than
        one, and the times above can be equal.""")


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

    intro, parts = __doc__.split("\n\nPart 1.")[0], __doc__.split("\n\nPart 1.")[1]
    say(intro)
    print("Part 1." + parts.split("\n\nEach part")[0])
    print()
    allocation_demo(args.headroom_mib)
    crop_demo()
    crop_any_demo()
    threads_demo()
    say("""
        Done. Shown: the recipe's alloc() and crop() through SWIG and ctypes
        (managed blocks freed with their arrays, leaking ones filling a
        capped address space), ezalloc.crop(a, key) equal to numpy's
        a[key].copy() on images, matrices, dates and records, and the thread
        setting.""")


if __name__ == "__main__":
    main()
