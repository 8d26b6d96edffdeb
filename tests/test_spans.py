from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.spans import SpanSet

SPAN = st.tuples(st.integers(0, 60), st.integers(0, 60))


@settings(max_examples=500, deadline=None)
@given(st.lists(SPAN, max_size=12), SPAN)
def test_overlaps_is_the_linear_scan_it_replaces(spans, query):
    """Any spans (unsorted, nested, overlapping, empty, reversed) against any query span."""
    s, e = query
    assert SpanSet(spans).overlaps(s, e) == any(a < e and s < b for a, b in spans)


def test_overlaps_on_the_edges():
    dates = SpanSet([(10, 20), (30, 40), (0, 5)])
    assert [dates.overlaps(s, e) for s, e in [(20, 30), (19, 21), (5, 10), (4, 6), (40, 41), (35, 36)]] == [
        False, True, False, True, False, True,
    ]  # fmt: skip
    assert not SpanSet([]).overlaps(0, 100)
