// Sampling (cpp/generate/sampling) and the UTF-8 stream of the generation loop
// (cpp/generate/utf8_stream): greedy is the argmax; draws follow softmax(logits / temp) within
// 5 sigma; top_k / top_p / min_p keep exactly the candidates they should; penalties change the
// choice; a seed reproduces a run. The stream's output for split and invalid UTF-8 equals
// Python's codecs incremental decoder with errors="replace" (expected bytes computed with it).
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "generate/sampling.h"
#include "generate/utf8_stream.h"
#include "test_util.h"

using edgeq::Sampler;
using edgeq::SamplingParams;

namespace {

using edgeq::test::expect_true;

SamplingParams plain(float temp) {
    SamplingParams p;
    p.temp = temp;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 1234;
    return p;
}

// Draws n tokens; returns counts per id.
std::map<int, int> draw(const SamplingParams& p, const std::vector<float>& logits, int n) {
    Sampler s(p, 128);
    std::map<int, int> counts;
    for (int i = 0; i < n; i++) counts[s.sample(logits.data(), (int)logits.size())]++;
    return counts;
}

void test_sampling() {
    const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 1.0f, 2.0f, -3.0f, 0.0f, 1.5f};
    const int n_vocab = (int)logits.size();
    {
        Sampler s(plain(0.0f), 128);
        expect_true(s.sample(logits.data(), n_vocab) == 1, "greedy: argmax, lowest id on ties");
    }
    // Temperature: frequencies match softmax(logits / temp).
    for (float temp : {1.0f, 0.5f}) {
        const int n = 40000;
        const auto counts = draw(plain(temp), logits, n);
        double z = 0;
        for (float l : logits) z += std::exp(l / temp);
        bool ok = true;
        for (int i = 0; i < n_vocab; i++) {
            const double p = std::exp(logits[i] / temp) / z;
            const double sigma = std::sqrt(n * p * (1 - p));
            const int c = counts.count(i) ? counts.at(i) : 0;
            ok &= std::fabs(c - n * p) <= 5 * sigma + 1;
        }
        expect_true(ok, "temperature " + std::to_string(temp) + ": frequencies follow the softmax");
    }
    // top_k = 3 keeps ids 1, 4 (logit 2) and 7 (1.5).
    {
        SamplingParams p = plain(1.0f);
        p.top_k = 3;
        const auto counts = draw(p, logits, 3000);
        std::set<int> seen;
        for (const auto& kv : counts) seen.insert(kv.first);
        expect_true(seen == std::set<int>{1, 4, 7}, "top_k 3");
    }
    // top_p: the probabilities sorted are ids 1, 4 (0.295 each), 7 (0.179), 3 (0.109), ...; p = 0.6
    // needs the first three (0.769), p = 0.5 the first two (0.590).
    for (auto [top_p, want] : std::vector<std::pair<float, std::set<int>>>{{0.6f, {1, 4, 7}}, {0.5f, {1, 4}}}) {
        SamplingParams p = plain(1.0f);
        p.top_p = top_p;
        const auto counts = draw(p, logits, 3000);
        std::set<int> seen;
        for (const auto& kv : counts) seen.insert(kv.first);
        expect_true(seen == want, "top_p " + std::to_string(top_p));
    }
    // min_p 0.35: keep p_i >= 0.35 p_max <=> l_i >= 2 + ln 0.35 = 0.950: ids 1, 4, 7, 3.
    {
        SamplingParams p = plain(1.0f);
        p.min_p = 0.35f;
        const auto counts = draw(p, logits, 4000);
        std::set<int> seen;
        for (const auto& kv : counts) seen.insert(kv.first);
        expect_true(seen == std::set<int>{1, 3, 4, 7}, "min_p 0.35");
    }
    // Repeat penalty 2 on ids 1 and 4 (logit 2 -> 1): greedy picks 7 (1.5); presence penalty too.
    {
        SamplingParams p = plain(0.0f);
        p.repeat_penalty = 2.0f;
        Sampler s(p, 128);
        s.accept(1);
        s.accept(4);
        expect_true(s.sample(logits.data(), n_vocab) == 7, "repeat penalty");
        SamplingParams q = plain(0.0f);
        q.presence_penalty = 0.75f;
        Sampler t(q, 128);
        t.accept(1);
        expect_true(t.sample(logits.data(), n_vocab) == 4, "presence penalty");
        SamplingParams r = plain(0.0f);
        r.repeat_penalty = 2.0f;
        r.repeat_last_n = 1;  // only the last token (4) is remembered
        Sampler u(r, 128);
        u.accept(1);
        u.accept(4);
        expect_true(u.sample(logits.data(), n_vocab) == 1, "repeat_last_n window");
    }
    // A seed reproduces the sequence; another seed gives another one.
    {
        SamplingParams p = plain(1.5f);
        Sampler a(p, 128), b(p, 128);
        p.seed = 99;
        Sampler c(p, 128);
        bool same = true, differ = false;
        for (int i = 0; i < 200; i++) {
            const int x = a.sample(logits.data(), n_vocab), y = b.sample(logits.data(), n_vocab);
            same &= x == y;
            differ |= x != c.sample(logits.data(), n_vocab);
        }
        expect_true(same && differ, "seed reproducibility");
    }
    SamplingParams bad = plain(1.0f);
    bad.top_p = 1.5f;
    expect_true(bad.check().find("top_p") != std::string::npos, "check names a bad parameter");
}

void test_utf8_stream() {
    // (pushes, expected outputs of each push then of flush), from Python's incremental decoder.
    struct Case {
        std::vector<std::string> pushes;
        std::vector<std::string> want;
    };
    const std::string R = "\xEF\xBF\xBD";
    const std::vector<Case> cases = {
        {{"\xE4\xBD", "\xA0x"}, {"", "\xE4\xBD\xA0x", ""}},
        {{"\xFF", "a"}, {R, "a", ""}},
        {{"\xE4\x41"}, {R + "A", ""}},
        {{"\xF0\x9F\x98"}, {"", R}},
        {{"\xED\xA0\x80"}, {R + R + R, ""}},
        {{"\xC0\xAF"}, {R + R, ""}},
        {{"\xF4\x90\x80\x80"}, {R + R + R + R, ""}},
        {{"\xE0\x80"}, {R + R, ""}},
        {{"\xF0\x9F", "\x98", "\x80!"}, {"", "", "\xF0\x9F\x98\x80!", ""}},
        {{"a\xC3"}, {"a", R}},
    };
    int i = 0;
    for (const auto& c : cases) {
        edgeq::Utf8Stream s;
        std::vector<std::string> got;
        for (const auto& p : c.pushes) got.push_back(s.push(p));
        got.push_back(s.flush());
        expect_true(got == c.want, "utf8 stream case " + std::to_string(i++));
    }
}

}  // namespace

int main() {
    test_sampling();
    test_utf8_stream();
    return edgeq::test::finish("test_sampling_stream");
}
