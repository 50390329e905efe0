"""No memory growth from failures: 100,000 failing calls of every kind
(MemoryError from a negative ni and from malloc failures injected with
libfailmalloc.so, IndexError, TypeError, ValueError, OverflowError), through
both front ends interleaved, in a child process (child_reliability.py
`growth`). After a warm-up of 10,000 calls the resident size must not grow by
2 MiB, nor glibc's malloc'd bytes in use by 512 KiB."""

import childproc


def test_failing_calls_do_not_grow_memory():
    out = childproc.check(childproc.run("child_reliability.py", "both", "growth", preload=True))
    assert out.startswith("ok 40 kinds"), out


def test_failing_calls_do_not_grow_memory_without_preload():
    # The same without the interposer: glibc's own malloc, no injected failures.
    out = childproc.check(childproc.run("child_reliability.py", "both", "growth"))
    assert out.startswith("ok 34 kinds"), out
