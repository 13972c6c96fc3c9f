import numpy as np
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from journal import xxh64


def test_every_length_up_to_300():
    rng = np.random.default_rng(42)
    data = rng.integers(0, 256, 310, dtype=np.uint8)
    for n in range(301):
        for start in (0, 1, 7):
            assert xxh64(data, start, n) == xxhash.xxh64_intdigest(data[start:start + n].tobytes())


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=300), st.integers(0, 16),
       st.integers(0, (1 << 63) - 1))
def test_matches_xxhash_library(data, start, seed):
    buf = np.frombuffer(bytes(start) + data, np.uint8)
    assert xxh64(buf, start, len(data), seed) == xxhash.xxh64_intdigest(data, seed)


def test_full_width_seed_and_large_input():
    data = np.random.default_rng(1).integers(0, 256, 100_003, dtype=np.uint8)
    seed = np.uint64((1 << 64) - 1)  # seeds above int64 go in as np.uint64
    assert xxh64(data, 0, len(data), seed) == xxhash.xxh64_intdigest(data.tobytes(), (1 << 64) - 1)
