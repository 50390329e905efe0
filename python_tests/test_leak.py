"""The leak, measured: under an address-space cap, managed arrays can be
allocated and dropped 2048 times, leaking ones run out of memory early.
Each run is a child process (python/demo.py's child mode)."""

import os
import re
import subprocess
import sys

import pytest

import demo

HEADROOM_MIB = 512
BLOCK_MIB = 4


@pytest.mark.parametrize("front", ["swig", "ctypes"])
def test_managed_arrays_all_fit_leaking_ones_fail(front):
    output, _, _ = demo.run_child(front, "managed", HEADROOM_MIB, touch=False)
    assert output.splitlines()[-1] == "Done!", output

    output, _, _ = demo.run_child(front, "leaking", HEADROOM_MIB, touch=False)
    failed = re.fullmatch(r"Step (\d+) failed", output.splitlines()[-1])
    assert failed, output
    step = int(failed.group(1))
    # The headroom holds at most 128 leaked 4 MiB blocks.
    assert HEADROOM_MIB // BLOCK_MIB // 2 <= step <= HEADROOM_MIB // BLOCK_MIB < 2048


@pytest.mark.parametrize("front", ["swig", "ctypes"])
def test_leaking_run_keeps_its_memory_resident(front):
    # Every array filled: the managed run reuses its block, the leaking one
    # keeps all of them.
    _, _, managed_kib = demo.run_child(front, "managed", HEADROOM_MIB, touch=True)
    _, _, leaking_kib = demo.run_child(front, "leaking", HEADROOM_MIB, touch=True)
    assert managed_kib < 128 * 1024
    assert leaking_kib - managed_kib > (HEADROOM_MIB - 64) * 1024


CROP_OUT_OF_MEMORY = """
import resource, sys
sys.path[:0] = {path!r}
import numpy as np
import conftest
crop = conftest.FRONT_ENDS[{front!r}].crop
a = np.ones((4096, 4096), np.intc)                 # 64 MiB
with open("/proc/self/statm") as f:
    size = int(f.read().split()[0]) * resource.getpagesize()
cap = size + (32 << 20)
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
try:
    crop(a, 0, 4095, 0, 4095)                      # needs another 64 MiB
except MemoryError as e:
    print("MemoryError:", e)
print(crop(a, 0, 10, 0, 10).sum())                 # small ones still work
"""


@pytest.mark.parametrize("front", ["swig", "ctypes"])
def test_crop_out_of_memory(front):
    code = CROP_OUT_OF_MEMORY.format(path=sys.path, front=front)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "MemoryError: crop: malloc of a 4095 x 4095 int block failed (ENOMEM)", "100"]
