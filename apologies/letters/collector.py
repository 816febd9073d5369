"""How Python's cyclic garbage collector runs while a worker lays out and writes letters.

WeasyPrint makes millions of short-lived objects, and a batch keeps every laid-out page until its PDF is written.
With Python's defaults the collector ran thousands of times over an ever larger heap: 40% of a 500-letter batch's
CPU (bench/letters.py). Two measures, measured with that bench:

- `few_collections`: a young generation of 50,000 objects instead of 700, so it runs a few dozen times a batch.
- `keep_laid_out`, inside a batch: after each chunk of letters the pages laid out so far (alive until the batch's
  PDF is written) are moved out of the collector's sight (`gc.freeze`), so later collections stop walking them
  again. It saved ~25% of the collector's time and ~18 MB of peak per 500 letters; the batch's end unfreezes them
  and collects once. Switching the collector off for a batch instead cost 130 MB more at its peak (WeasyPrint
  leaves reference cycles behind) for about the same CPU.

`gc.freeze` is process-wide. Under a threads pool (`make run`'s worker) another thread's batch may freeze this
thread's objects or unfreeze them early: that changes when garbage is collected, never what is kept alive.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Objects made between two young-generation collections while letters are laid out (Python's default is 700).
LAYOUT_GC_THRESHOLD = 50_000

_scope = threading.local()


def in_batch() -> bool:
    return getattr(_scope, "batch", False)


@contextmanager
def few_collections(*, collect_after: bool = False) -> Iterator[None]:
    """Collect cyclic garbage less often inside this block. With `collect_after`, the block is a whole batch: the
    objects `keep_laid_out` froze inside it are unfrozen at its end and everything it left is collected, freed
    before the next batch, not on top of it (-100 MB a worker)."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], LAYOUT_GC_THRESHOLD), *before[1:])
    outermost = collect_after and not in_batch()
    if outermost:
        _scope.batch = True
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if outermost:
            _scope.batch = False
            gc.unfreeze()
        if collect_after:
            gc.collect()


def keep_laid_out() -> None:
    """Inside a batch (`few_collections(collect_after=True)`): collect the young generations once, then freeze
    what survived, the pages laid out so far. Outside a batch (a preview) it does nothing: no one would unfreeze."""
    if in_batch():
        gc.collect(1)
        gc.freeze()
