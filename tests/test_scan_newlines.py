"""kb.scan.newlines counts line breaks with memchr-based pieces instead of bytes.count (issue 12:
the count was a non-vectorised per-byte loop on every log byte); it must agree with bytes.count
on every range, piece boundary and buffer type, since every reported line number rests on it."""
from hypothesis import given, settings, strategies as st

from tfhelp.kb import scan
from tfhelp.kb.scan import NL_PIECE, newlines


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000), st.integers(0, 40), st.data())
def test_agrees_with_count_on_any_range(chunk, reps, data):
    buf = chunk * reps  # long enough, with many newlines where chunk has them
    lo = data.draw(st.integers(0, len(buf)))
    hi = data.draw(st.integers(lo, len(buf)))
    want = buf.count(b"\n", lo, hi)
    assert newlines(buf, lo, hi) == want
    assert newlines(bytearray(buf), lo, hi) == want


def test_piece_boundaries_and_defaults(monkeypatch):
    line = b"x" * 99 + b"\n"
    buf = bytearray(line * ((3 * NL_PIECE) // len(line) + 7))
    for lo, hi in [(0, NL_PIECE), (1, NL_PIECE + 1), (NL_PIECE - 1, 2 * NL_PIECE + 5), (0, len(buf))]:
        assert newlines(buf, lo, hi) == buf.count(b"\n", lo, hi)
    assert newlines(bytes(buf)) == bytes(buf).count(b"\n") == len(buf) // 100
    assert newlines(buf, 10, 10) == 0
    # small pieces exercise the loop with many pieces and a short last one
    monkeypatch.setattr(scan, "NL_PIECE", 4096)
    assert newlines(buf, 3, len(buf) - 3) == buf.count(b"\n", 3, len(buf) - 3)
