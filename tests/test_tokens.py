"""spreed.tokens.random_string: ids and nonces from one read of the random source, still uniform."""
from __future__ import annotations

from collections import Counter

from spreed.tokens import ALNUM, random_string


def test_length_and_alphabet():
    for length in (0, 1, 8, 32, 200):
        value = random_string(length)
        assert len(value) == length and set(value) <= set(ALNUM)
    assert set(random_string(64, "ab")) == {"a", "b"}


def test_every_character_about_equally_likely():
    counts = Counter("".join(random_string(32) for _ in range(5000)))  # 160,000 characters
    expected = 160_000 / len(ALNUM)
    assert set(counts) == set(ALNUM)
    # a modulo bias (256 % 62 = 8 characters favoured) would put those 25% above the rest
    assert max(counts.values()) < expected * 1.08 and min(counts.values()) > expected * 0.92, counts


def test_values_differ():
    assert len({random_string(32) for _ in range(1000)}) == 1000
