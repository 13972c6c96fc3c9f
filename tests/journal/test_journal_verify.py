"""verify: clean journals pass; a flipped byte anywhere is found, with the right seq."""

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from journal_testkit import SMALL_SEGMENT, frames_per_segment, records, seq_range

from journal import JournalWriter, verify
from journal.format import read_seal_file, seal_path, segment_path
from journal.meta import open_meta

PER = frames_per_segment()
F = 160
TAIL_FRAMES = 50
TOTAL = PER * 3 + TAIL_FRAMES  # segments 1-3 sealed and full, segment 4 open


def build(path, seal_last=False, seal_key=None):
    w = JournalWriter(path, segment_bytes=SMALL_SEGMENT, fsync="none", index_every=64,
                      seal_key=seal_key)
    w.open()
    for lo in range(1, TOTAL + 1, 500):
        w.append(seq_range(lo, min(500, TOTAL + 1 - lo), types=[1, 8, 8, 9, 5][lo % 5]))
    w.close(seal=seal_last)
    return path


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return build(tmp_path_factory.mktemp("pristine") / "j")


def flip(path, offset, mask):
    data = bytearray(path.read_bytes())
    data[offset] ^= mask
    path.write_bytes(bytes(data))


def test_clean_journal(pristine):
    res = verify(pristine)
    assert res.ok, res.reason
    assert (res.first_bad_seq, res.reason) == (None, None)
    assert (res.final_seq, res.records, res.segments, res.kind) == (TOTAL, TOTAL, 4, "input")
    assert sum(res.counts.values()) == TOTAL
    assert set(res.counts) <= {"NewOrder", "MarketData", "Timer", "VenueFill"}
    d = res.to_json()
    assert set(d) == {"ok", "first_bad_seq", "reason", "final_seq", "records", "segments",
                      "counts", "kind"}
    json.dumps(d)


def test_seal_chain(pristine):
    seals = [read_seal_file(pristine, i) for i in (1, 2, 3)]
    assert read_seal_file(pristine, 4) is None
    assert [s.first_seq for s in seals] == [1, PER + 1, 2 * PER + 1]
    assert [s.frames for s in seals] == [PER] * 3
    assert len({s.seal for s in seals}) == 3
    for i in (2, 3, 4):  # each header carries the previous seal
        head = segment_path(pristine, i).read_bytes()[:128]
        assert head[32:64] == seals[i - 2].seal
    meta = open_meta(pristine, create=False)
    assert [meta.get_seal(i) for i in (1, 2, 3)] == seals
    meta.close()


def test_keyed_seals(tmp_path):
    key = b"k" * 32
    j = build(tmp_path / "j", seal_last=True, seal_key=key)
    assert verify(j, seal_key=key).ok
    res = verify(j)
    assert not res.ok and res.first_bad_seq == 1
    assert res.reason.startswith("chain:") and "pass seal_key" in res.reason
    assert not verify(j, seal_key=b"x" * 32).ok
    plain = build(tmp_path / "p", seal_last=True)
    res = verify(plain, seal_key=key)
    assert not res.ok and "sealed without a key" in res.reason


def test_output_journal(tmp_path):
    j = tmp_path / "o"
    with JournalWriter(j, kind="output", record_size=192, segment_bytes=SMALL_SEGMENT,
                       fsync="none") as w:
        w.append(records([1, 1, 1, 4, 4, 7] * 1 + list(range(8, 1000)), size=192,
                         types=101))
    res = verify(j)
    assert res.ok and res.kind == "output" and res.final_seq == 999
    assert res.counts == {"ExecReport": 998}


def expected(k, off):
    """(first_bad_seq, category) for a flipped byte at offset ``off`` of segment ``k``."""
    first = (k - 1) * PER + 1
    n = PER if k < 4 else TAIL_FRAMES
    end = 128 + n * F
    if off < 128:
        return first, "format:"
    if off < end:
        return first + (off - 128) // F, "checksum:"
    return first + n, "checksum:"  # stray bytes after the last frame


def segment_offsets():
    region = st.sampled_from(["header", "frame", "frame_header", "hash", "tail"])

    @st.composite
    def pick(draw):
        k = draw(st.integers(1, 4))
        n = PER if k < 4 else TAIL_FRAMES
        where = draw(region)
        i = draw(st.integers(0, n - 1))
        base = 128 + i * F
        if where == "header":
            off = draw(st.integers(0, 127))
        elif where == "frame":
            off = base + draw(st.integers(24, F - 9))
        elif where == "frame_header":
            off = base + draw(st.integers(0, 23))
        elif where == "hash":
            off = base + draw(st.integers(F - 8, F - 1))
        else:
            off = draw(st.integers(128 + n * F, SMALL_SEGMENT - 1))
        return k, off, draw(st.integers(1, 255))
    return pick()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(segment_offsets())
def test_flipped_byte_is_found(pristine, case):
    k, off, mask = case
    with tempfile.TemporaryDirectory() as tmp:
        j = Path(tmp) / "j"
        shutil.copytree(pristine, j)
        flip(segment_path(j, k), off, mask)
        res = verify(j)
    seq, category = expected(k, off)
    assert not res.ok
    assert (res.first_bad_seq, res.reason.split()[0]) == (seq, category), res.problems
    if k < 4 and category == "checksum:" and off < 128 + PER * F:
        # a sealed segment: the seal no longer matches either
        assert any(p.startswith("chain:") for p in res.problems), res.problems


@pytest.mark.parametrize("where", ["header", "frame", "tail"])
def test_flip_in_a_segment_sealed_on_close(tmp_path, where):
    j = build(tmp_path / "j", seal_last=True)
    off = {"header": 40, "frame": 128 + 10 * F + 77, "tail": 128 + TAIL_FRAMES * F + 1000}[where]
    flip(segment_path(j, 4), off, 0x10)
    res = verify(j)
    seq, category = expected(4, off)
    assert (res.ok, res.first_bad_seq, res.reason.split()[0]) == (False, seq, category)


def test_tampered_seal_file(pristine, tmp_path):
    j = tmp_path / "j"
    shutil.copytree(pristine, j)
    p = seal_path(j, 2)
    d = json.loads(p.read_text())
    d["seal"] = ("0" if d["seal"][0] != "0" else "1") + d["seal"][1:]
    p.write_text(json.dumps(d, indent=1) + "\n")
    res = verify(j)
    assert (res.ok, res.first_bad_seq) == (False, PER + 1)
    assert res.reason.startswith("chain:")
    # also a change that keeps the JSON valid and the values equal
    shutil.copytree(pristine, tmp_path / "k")
    p = seal_path(tmp_path / "k", 1)
    p.write_text(p.read_text().replace("blake2b-256", "blake2b-25x"))
    res = verify(tmp_path / "k")
    assert (res.ok, res.first_bad_seq) == (False, 1) and res.reason.startswith("chain:")


def test_tampered_lmdb_seal(pristine, tmp_path):
    j = tmp_path / "j"
    shutil.copytree(pristine, j)
    meta = open_meta(j, create=True)
    info = meta.get_seal(3)
    meta.put_seal(type(info)(3, bytes(32), info.end, info.first_seq, info.last_seq,
                             info.frames, info.keyed))
    meta.close()
    res = verify(j)
    assert (res.ok, res.first_bad_seq) == (False, 2 * PER + 1)
    assert res.reason.startswith("chain:") and "LMDB" in res.reason


def test_rewritten_frame_with_valid_hash_breaks_the_seal(pristine, tmp_path):
    """A forger who recomputes the xxh64 is still caught by the cryptographic seal."""
    import numpy as np

    from journal import xxh64
    j = tmp_path / "j"
    shutil.copytree(pristine, j)
    seg = segment_path(j, 2)
    data = bytearray(seg.read_bytes())
    off = 128 + 5 * F
    data[off + 100] ^= 1
    h = xxh64(np.frombuffer(bytes(data), np.uint8), off, F - 8)
    data[off + F - 8:off + F] = int(h).to_bytes(8, "little")
    seg.write_bytes(bytes(data))
    res = verify(j)
    assert (res.ok, res.first_bad_seq) == (False, PER + 1)
    assert res.reason.startswith("chain:") and "does not match its seal" in res.reason


def test_gap_and_order_reasons(tmp_path):
    """Frames with valid hashes that break the order: written by a buggy or forged writer."""
    model = tmp_path / "m"
    with JournalWriter(model, segment_bytes=SMALL_SEGMENT, fsync="none") as w:
        w.append(seq_range(1, 20))
    frames = segment_path(model, 1).read_bytes()

    def forged(name, order):
        j = tmp_path / name
        shutil.copytree(model, j)
        seg = segment_path(j, 1)
        data = bytearray(seg.read_bytes())
        for slot, src in enumerate(order):
            data[128 + slot * F:128 + (slot + 1) * F] = frames[128 + src * F:128 + (src + 1) * F]
        seg.write_bytes(bytes(data))
        return verify(j)

    res = forged("gap", list(range(10)) + list(range(11, 20)) + [19])
    assert (res.first_bad_seq, res.reason.split()[0]) == (11, "gap:")
    res = forged("dup", list(range(10)) + [8] + list(range(11, 20)))  # seq 9 again
    assert (res.first_bad_seq, res.reason.split()[0]) == (11, "gap:")

    out = tmp_path / "o"
    with JournalWriter(out, kind="output", segment_bytes=SMALL_SEGMENT, fsync="none") as w:
        w.append(records([1, 2, 3, 4, 5], ts=[10, 20, 30, 40, 50]))
    oframes = segment_path(out, 1).read_bytes()
    data = bytearray(oframes)
    a, b = 128 + 1 * F, 128 + 3 * F
    data[a:a + F], data[b:b + F] = oframes[b:b + F], oframes[a:a + F]  # 1 4 3 2 5
    segment_path(out, 1).write_bytes(bytes(data))
    res = verify(out)
    assert (res.first_bad_seq, res.reason.split()[0]) == (3, "order:")


@pytest.mark.parametrize("part", [0, 6, 15, 20, 24 + 23, 24 + 100, F - 1])
@pytest.mark.parametrize("slot", [0, 7, 8, 30])
def test_flipped_byte_in_output_journal(tmp_path, part, slot):
    """Output seqs repeat and jump; the damaged frame's own seq is reported."""
    j = tmp_path / "o"
    seqs = [2, 2, 2, 5, 5, 9, 9, 9, 9, 10] + list(range(11, 40))
    with JournalWriter(j, kind="output", segment_bytes=SMALL_SEGMENT, fsync="none") as w:
        w.append(records(seqs))
    flip(segment_path(j, 1), 128 + slot * F + part, 0x40)
    res = verify(j)
    assert (res.ok, res.first_bad_seq, res.reason.split()[0]) == (False, seqs[slot], "checksum:")
