"""Sampler steps against hand-computed small examples, plus greedy, seeding and penalties."""
import math

import numpy as np
import pytest

from edgeq.sampling import (Sampler, SamplingParams, apply_penalties, min_p, sample_dist,
                            top_k, top_p, top_p_all)

# ids 0..4; sorted descending: id2 (3.0), id4 (2.5), id1 (2.0), id0 (1.0), id3 (0.5)
LOGITS = np.array([1.0, 2.0, 3.0, 0.5, 2.5], dtype=np.float32)


def test_top_k_keeps_k_largest_sorted():
    ids, lg = top_k(LOGITS, 3)
    assert ids.tolist() == [2, 4, 1]
    assert lg.tolist() == [3.0, 2.5, 2.0]


@pytest.mark.parametrize("k", [0, -1, 5, 100])
def test_top_k_off_keeps_all_sorted(k):
    ids, _ = top_k(LOGITS, k)
    assert ids.tolist() == [2, 4, 1, 0, 3]


def test_top_p_hand_computed():
    cand = top_k(LOGITS, 3)
    # softmax([3, 2.5, 2]) = [1, e^-.5, e^-1] / 1.9744 = [.5065, .3072, .1863]
    # cumulative .5065, .8137, 1.0: p=.8 needs 2 tokens, p=.5 needs 1, p=.82 needs 3.
    assert top_p(cand, 0.80)[0].tolist() == [2, 4]
    assert top_p(cand, 0.50)[0].tolist() == [2]
    assert top_p(cand, 0.82)[0].tolist() == [2, 4, 1]
    assert top_p(cand, 1.0)[0].tolist() == [2, 4, 1]
    assert top_p(cand, 0.0)[0].tolist() == [2]  # min_keep = 1


@pytest.mark.parametrize("scale", [0.5, 3.0, 10.0])
@pytest.mark.parametrize("p", [0.5, 0.9, 0.999])
def test_top_p_all_equals_sorting_everything(scale, p):
    # top_p_all grows a partial top set; it must pick exactly what a full sort picks,
    # for flat (scale .5) and peaked (scale 10) distributions.
    logits = (np.random.default_rng(7).standard_normal(49152) * scale).astype(np.float32)
    want_ids, want_logits = top_p(top_k(logits, 0), p)
    got_ids, got_logits = top_p_all(logits, p)
    assert got_ids.tolist() == want_ids.tolist()
    assert got_logits.tolist() == want_logits.tolist()


@pytest.mark.parametrize("k", [1, 40, 1000])
def test_top_k_large_vocab_matches_full_sort(k):
    logits = (np.random.default_rng(k).standard_normal(128256) * 4).astype(np.float32)
    ids, lg = top_k(logits, k)
    assert lg.tolist() == np.sort(logits)[::-1][:k].tolist()
    assert np.all(logits[ids] == lg)


def test_min_p_hand_computed():
    cand = top_k(LOGITS, 0)
    # prob / max prob = exp(l - 3) = [1, .607, .368, .135, .082]
    assert min_p(cand, 0.10)[0].tolist() == [2, 4, 1, 0]
    assert min_p(cand, 0.40)[0].tolist() == [2, 4]
    assert min_p(cand, 0.0)[0].tolist() == [2, 4, 1, 0, 3]
    assert min_p(cand, 1.0)[0].tolist() == [2]


def test_penalties_hand_computed():
    logits = np.array([2.0, -1.0, 0.5, 4.0], dtype=np.float32)
    out = apply_penalties(logits, [0, 1, 1], repeat=2.0, frequency=0.1, presence=0.2)
    # id0 (seen once, positive): 2/2 - 0.1 - 0.2; id1 (twice, negative): -1*2 - 0.2 - 0.2
    np.testing.assert_allclose(out, [0.7, -2.4, 0.5, 4.0], rtol=1e-6)
    assert logits.tolist() == [2.0, -1.0, 0.5, 4.0]  # input untouched


def test_greedy_is_argmax_on_large_vocab():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal(49152).astype(np.float32)
    s = Sampler(SamplingParams(temp=0.0))
    assert s.sample(logits) == int(np.argmax(logits))
    s = Sampler(SamplingParams(temp=-1.0, top_k=1))
    assert s.sample(logits) == int(np.argmax(logits))


def test_greedy_sees_repeat_penalty():
    logits = np.array([5.0, 4.0, 1.0], dtype=np.float32)
    s = Sampler(SamplingParams(temp=0.0, repeat_penalty=2.0, repeat_last_n=2))
    assert s.sample(logits) == 0
    s.accept(0)
    assert s.sample(logits) == 1  # 5/2 < 4
    s.accept(1)
    s.accept(2)  # window of 2: token 0 has left the history
    assert s.sample(logits) == 0


def test_seeded_sampling_is_deterministic():
    rng = np.random.default_rng(1)
    rows = rng.standard_normal((20, 32000)).astype(np.float32) * 3
    params = SamplingParams(temp=1.0, top_k=0, top_p=0.95, min_p=0.0, seed=1234)
    a = [Sampler(params).sample(r) for r in rows]
    s1, s2 = Sampler(params), Sampler(params)
    b = [s1.sample(r) for r in rows]
    c = [s2.sample(r) for r in rows]
    assert b == c
    other = Sampler(SamplingParams(temp=1.0, top_k=0, top_p=0.95, min_p=0.0, seed=99))
    assert [other.sample(r) for r in rows] != b
    assert len(set(a)) > 1


def test_random_seed_is_recorded_and_reusable():
    s = Sampler(SamplingParams(seed=-1))
    assert 0 <= s.seed < 2**32
    logits = np.linspace(0, 1, 1000).astype(np.float32)
    again = Sampler(SamplingParams(seed=s.seed))
    assert [s.sample(logits) for _ in range(20)] == [again.sample(logits) for _ in range(20)]


def test_dist_frequencies_follow_tempered_softmax():
    ids = np.array([7, 8, 9])
    logits = np.array([2.0, 1.0, 0.0])
    temp = 0.5
    rng = np.random.default_rng(5)
    n = 20000
    draws = np.array([sample_dist((ids, logits), temp, rng) for _ in range(n)])
    expected = np.exp(logits / temp) / np.exp(logits / temp).sum()
    got = np.array([(draws == i).mean() for i in ids])
    # 20000 draws: standard error <= sqrt(.25/20000) = .0035; allow ~4 sigma
    np.testing.assert_allclose(got, expected, atol=0.015)


def test_chain_order_temperature_comes_last():
    # With temperature after min_p, a very high temperature cannot bring back a token that
    # min_p removed: only ids 2 and 4 (prob >= .4 x max) can ever be drawn.
    s = Sampler(SamplingParams(temp=100.0, top_k=0, top_p=1.0, min_p=0.4, seed=3))
    drawn = {s.sample(LOGITS) for _ in range(300)}
    assert drawn == {2, 4}


@pytest.mark.parametrize("field,value", [("top_p", 1.5), ("top_p", -0.1), ("min_p", 2.0),
                                         ("repeat_penalty", 0.0), ("repeat_last_n", -2),
                                         ("seed", -5), ("temp", math.nan)])
def test_bad_params_rejected(field, value):
    params = SamplingParams(**{field: value})
    with pytest.raises(ValueError):
        params.validate()
