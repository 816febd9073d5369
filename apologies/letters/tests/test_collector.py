import gc
import weakref

from apologies.letters import collector


class Page:
    """A stand-in for a laid-out page: it refers to itself, as WeasyPrint's boxes do."""

    def __init__(self) -> None:
        self.me = self


def test_it_freezes_what_a_batch_laid_out_and_unfreezes_it_at_the_batch_end():
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    with collector.few_collections(collect_after=True):
        assert gc.get_threshold()[0] == collector.LAYOUT_GC_THRESHOLD
        pages = [Page() for _ in range(100)]
        refs = [weakref.ref(page) for page in pages]
        collector.keep_laid_out()
        frozen = gc.get_freeze_count()
        assert frozen >= len(pages)
        # A nested scope (the layout's, the PDF's) neither unfreezes nor ends the batch.
        with collector.few_collections():
            collector.keep_laid_out()
        assert gc.get_freeze_count() >= frozen and collector.in_batch()
        del pages
    assert gc.get_freeze_count() == 0 and not collector.in_batch()
    assert gc.get_threshold() == before
    # The batch's cycles were collected at its end, not left for later.
    assert not [ref for ref in refs if ref() is not None]


def test_it_never_freezes_outside_a_batch():
    with collector.few_collections():
        collector.keep_laid_out()
        assert gc.get_freeze_count() == 0
    collector.keep_laid_out()
    assert gc.get_freeze_count() == 0
