// The C++ GGUF reader (cpp/gguf): a valid file reads back exactly; truncation at every header
// byte and many data offsets, corrupted header fields, absurd counts and random byte flips give
// a GgufError naming the file and the problem, never a crash (the cases of
// tests/python/test_gguf_malformed.py); a real vocabulary file truncated at many points too;
// the model config errors of read_model_config.
#include <cstdio>
#include <functional>
#include <random>

#include "gguf/gguf.h"
#include "gguf/model_config.h"
#include "gguf_builder.h"
#include "test_util.h"

using edgeq::GgufError;
using edgeq::GgufFile;
using edgeq::test::GgufBuilder;

namespace {

struct Corruption {
    uint32_t magic_ok = 1, version = 3;
    int64_t n_tensors = -1, n_kv = -1;
    uint32_t alignment = 32, tensor_type = 0, n_dims_override = 0xFFFFFFFF;
    std::vector<uint64_t> dims = {64, 3};
    uint64_t tensor_offset = 0;
    int64_t string_len = -1, array_count = -1;
    uint32_t value_type = 8;
};

// A small valid GGUF (one F32 (64, 3) tensor, a few KVs incl. a string array) unless c corrupts
// one field: build_gguf of test_gguf_malformed.py.
std::string build(const Corruption& c = Corruption()) {
    GgufBuilder b;
    b.kv_string("general.architecture", "llama");
    b.kv_u32("general.alignment", c.alignment);
    {
        std::string p;
        GgufBuilder::put_u32(p, 8);
        GgufBuilder::put_u64(p, c.array_count >= 0 ? (uint64_t)c.array_count : 3);
        for (const char* s : {"a", "b", "c"}) GgufBuilder::put_str(p, s);
        b.kv("tokenizer.ggml.tokens", 9, p);
    }
    std::string name_payload;
    if (c.string_len >= 0) {
        GgufBuilder::put_u64(name_payload, (uint64_t)c.string_len);
        name_payload += "tiny";
    } else {
        name_payload = GgufBuilder::str_bytes("tiny");
    }
    b.kv("general.name", c.value_type, name_payload);
    b.tensor("t0", c.tensor_type, c.dims, c.tensor_offset);
    std::string data(192 * 4, '\0');
    for (int i = 0; i < 192; i++) {
        const float v = (float)i;
        std::memcpy(&data[i * 4], &v, 4);
    }
    const uint64_t align = (c.alignment && !(c.alignment & (c.alignment - 1))) ? c.alignment : 32;
    std::string blob = b.build(data, c.version, align, c.n_tensors, c.n_kv);
    if (c.n_dims_override != 0xFFFFFFFF) {
        // n_dims sits right after the tensor name "t0" in the header.
        const size_t at = blob.find(std::string("\x02\0\0\0\0\0\0\0t0", 10)) + 10;
        std::memcpy(&blob[at], &c.n_dims_override, 4);
    }
    if (!c.magic_ok) std::memcpy(&blob[0], "GGML", 4);
    return blob;
}

const std::string kPath = edgeq::test::temp_path("reader.gguf");

// Expects opening bytes to fail with a one-line GgufError naming the file and one fragment.
bool expect_error(const std::string& bytes, const std::vector<std::string>& any_of, const std::string& what) {
    edgeq::test::write_file(kPath, bytes);
    edgeq::test::counters().comparisons++;
    try {
        GgufFile f(kPath);
    } catch (const GgufError& e) {
        const std::string msg = e.what();
        bool found = any_of.empty();
        for (const auto& frag : any_of) found |= msg.find(frag) != std::string::npos;
        if (found && msg.find(kPath) == 0 && msg.find('\n') == std::string::npos) return true;
        std::fprintf(stderr, "FAIL %s: unexpected message: %s\n", what.c_str(), msg.c_str());
        edgeq::test::counters().failures++;
        return false;
    }
    std::fprintf(stderr, "FAIL %s: no error\n", what.c_str());
    edgeq::test::counters().failures++;
    return false;
}

using edgeq::test::expect_true;

void test_valid_file() {
    for (uint32_t version : {2u, 3u}) {
        Corruption c;
        c.version = version;
        edgeq::test::write_file(kPath, build(c));
        GgufFile f(kPath);
        expect_true(f.version() == version && f.architecture() == "llama", "valid: version and architecture");
        const edgeq::GgufValue* tok = f.find("tokenizer.ggml.tokens");
        expect_true(tok && tok->strings.size() == 3 && tok->strings[1] == "b", "valid: string array");
        const edgeq::GgufValue* al = f.find("general.alignment");
        expect_true(al && al->type == edgeq::GgufType::U32 && al->u == 32, "valid: u32 value");
        const edgeq::GgufTensorInfo* t = f.find_tensor("t0");
        expect_true(t && t->shape == std::vector<int64_t>{64, 3} && t->nbytes == 768 && t->offset % 32 == 0, "valid: tensor");
        const float* data = reinterpret_cast<const float*>(f.tensor_data(*t));
        bool same = true;
        for (int i = 0; i < 192; i++) same &= data[i] == (float)i;
        expect_true(same, "valid: tensor bytes");
        const edgeq::TensorMap map = f.tensor_map();
        expect_true(map.size() == 1 && map.at("t0").nbytes == 768 && map.at("t0").data == f.tensor_data(*t), "valid: tensor map");
    }
}

void test_truncation() {
    const std::string blob = build();
    const size_t data_start = blob.size() - 192 * 4;
    int n = 0;
    for (size_t cut = 0; cut < blob.size(); cut += (cut < data_start + 1 ? 1 : 37)) {
        expect_error(blob.substr(0, cut), {"truncated", "empty file", "bad magic", "past the end", "larger than the file"},
                     "truncated at " + std::to_string(cut));
        n++;
    }
    expect_true(n > 200, "truncation: enough cuts");
}

void test_corrupted_fields() {
    struct Case {
        std::function<void(Corruption&)> set;
        std::vector<std::string> fragments;
    };
    const std::vector<Case> cases = {
        {[](Corruption& c) { c.magic_ok = 0; }, {"bad magic"}},
        {[](Corruption& c) { c.version = 1; }, {"version 1"}},
        {[](Corruption& c) { c.version = 7; }, {"unsupported GGUF version 7"}},
        {[](Corruption& c) { c.version = 3u << 16; }, {"big-endian"}},
        {[](Corruption& c) { c.n_tensors = int64_t(1) << 60; }, {"tensor count"}},
        {[](Corruption& c) { c.n_kv = int64_t(1) << 60; }, {"metadata count"}},
        {[](Corruption& c) { c.n_kv = 10; }, {"truncated"}},
        {[](Corruption& c) { c.string_len = int64_t(1) << 62; }, {"truncated"}},
        {[](Corruption& c) { c.array_count = int64_t(1) << 61; }, {"larger", "truncated"}},
        {[](Corruption& c) { c.value_type = 99; }, {"unknown metadata value type 99"}},
        {[](Corruption& c) { c.tensor_type = 99; }, {"unknown type 99"}},
        {[](Corruption& c) { c.n_dims_override = 0; }, {"0 dimensions"}},
        {[](Corruption& c) { c.n_dims_override = 5; }, {"5 dimensions"}},
        {[](Corruption& c) { c.dims = {64, 0}; }, {"zero or negative dimension"}},
        {[](Corruption& c) { c.dims = {uint64_t(1) << 40, uint64_t(1) << 20}; }, {"impossibly large"}},
        {[](Corruption& c) { c.dims = {uint64_t(1) << 63, 3}; }, {"impossibly large"}},
        {[](Corruption& c) { c.dims = {uint64_t(1) << 20, uint64_t(1) << 20}; }, {"past the end"}},
        {[](Corruption& c) { c.tensor_type = 2, c.dims = {48, 4}; }, {"not a multiple"}},
        {[](Corruption& c) { c.tensor_offset = 8; }, {"not aligned"}},
        {[](Corruption& c) { c.tensor_offset = 1 << 20; }, {"past the end"}},
        {[](Corruption& c) { c.tensor_offset = ~uint64_t(31); }, {"past the end"}},
        {[](Corruption& c) { c.alignment = 0; }, {"power of two"}},
        {[](Corruption& c) { c.alignment = 24; }, {"power of two"}},
    };
    int i = 0;
    for (const auto& cs : cases) {
        Corruption c;
        cs.set(c);
        expect_error(build(c), cs.fragments, "corrupted field case " + std::to_string(i++));
    }
}

void test_hostile_nesting() {
    // An array of arrays of arrays ... 100 deep must be refused, not recursed into.
    std::string p;
    for (int d = 0; d < 100; d++) {
        GgufBuilder::put_u32(p, 9);
        GgufBuilder::put_u64(p, 1);
    }
    GgufBuilder::put_u32(p, 4);
    GgufBuilder::put_u64(p, 0);
    GgufBuilder b;
    b.kv("deep", 9, p);
    expect_error(b.build(""), {"nested"}, "deeply nested arrays");
}

void test_random_corruption() {
    const std::string blob = build();
    const size_t header_len = blob.size() - 192 * 4;
    std::mt19937 rng(0);
    int errors = 0, ok = 0;
    for (int it = 0; it < 300; it++) {
        std::string b = blob;
        for (int k = 0; k < 3; k++) b[rng() % header_len] = (char)(rng() & 255);
        edgeq::test::write_file(kPath, b);
        try {
            GgufFile f(kPath);
            ok++;
        } catch (const GgufError& e) {
            errors++;
            expect_true(std::string(e.what()).find('\n') == std::string::npos, "random corruption: one-line message");
        }
    }
    expect_true(errors > 50, "random corruption: errors " + std::to_string(errors) + ", accepted " + std::to_string(ok));
}

void test_missing_and_empty() {
    const std::string missing = edgeq::test::temp_path("does_not_exist.gguf");
    edgeq::test::counters().comparisons++;
    try {
        GgufFile f(missing);
        edgeq::test::counters().failures++;
    } catch (const GgufError& e) {
        expect_true(e.kind == GgufError::Io && std::string(e.what()).find("cannot open") != std::string::npos, "missing file");
    }
    expect_error("", {"empty file"}, "empty file");
}

// A real 724 KB vocabulary truncated at ~1500 points (metadata is nearly the whole file).
void test_truncated_vocab() {
    const std::string path = edgeq::test::shared_data_dir() + "/vocab/ggml-vocab-llama-spm.gguf";
    const std::string blob = edgeq::test::read_file(path);
    if (blob.empty()) {
        std::printf("SKIP truncated vocabulary: %s not found\n", path.c_str());
        return;
    }
    edgeq::test::write_file(kPath, blob);
    { GgufFile whole(kPath); expect_true(whole.find("tokenizer.ggml.tokens") != nullptr, "vocab: reads whole"); }
    for (size_t cut = 0; cut < blob.size(); cut += (cut < 4096 ? 7 : 997))
        expect_error(blob.substr(0, cut), {"truncated", "empty file", "bad magic", "past the end", "larger than the file"},
                     "vocab truncated at " + std::to_string(cut));
}

void test_model_config_errors() {
    auto config_error = [&](GgufBuilder& b, const std::string& data, const std::string& fragment, const std::string& what) {
        edgeq::test::write_file(kPath, b.build(data));
        edgeq::test::counters().comparisons++;
        try {
            GgufFile f(kPath);
            edgeq::read_model_config(f);
            std::fprintf(stderr, "FAIL %s: no error\n", what.c_str());
            edgeq::test::counters().failures++;
        } catch (const GgufError& e) {
            if (std::string(e.what()).find(fragment) == std::string::npos) {
                std::fprintf(stderr, "FAIL %s: %s\n", what.c_str(), e.what());
                edgeq::test::counters().failures++;
            }
        }
    };
    GgufBuilder qwen;
    qwen.kv_string("general.architecture", "qwen2");
    config_error(qwen, "", "unsupported architecture 'qwen2' (supported: bitnet, bitnet-25, bitnet-b1.58, llama)",
                 "unsupported architecture");
    GgufBuilder no_embd;
    no_embd.kv_string("general.architecture", "llama");
    config_error(no_embd, "", "missing tensor 'token_embd.weight'", "missing token_embd");
    GgufBuilder no_key;
    no_key.kv_string("general.architecture", "bitnet-b1.58");
    no_key.tensor("token_embd.weight", 0, {8, 4}, 0);
    config_error(no_key, std::string(128, '\0'), "missing metadata key 'bitnet-b1.58.block_count'", "missing key");
    GgufBuilder ok;
    ok.kv_string("general.architecture", "bitnet-b1.58");
    for (const char* k : {"block_count", "embedding_length", "feed_forward_length", "attention.head_count"})
        ok.kv_u32(std::string("bitnet-b1.58.") + k, std::string(k) == "embedding_length" ? 8 : 2);
    ok.kv_u32("bitnet-b1.58.attention.head_count_kv", 1);
    ok.tensor("token_embd.weight", 0, {8, 4}, 0);
    edgeq::test::write_file(kPath, ok.build(std::string(128, '\0')));
    GgufFile f(kPath);
    const edgeq::ModelConfig c = edgeq::read_model_config(f);
    expect_true(c.n_vocab == 4 && c.n_embd == 8 && c.head_dim == 4 && c.n_head_kv == 1 &&
              c.ffn_act == edgeq::FfnAct::ReluSqr && c.rope_style == edgeq::RopeStyle::NeoX && c.sub_norms &&
              c.matmul_scales,
          "bitnet-b1.58 config flags");
    expect_true(edgeq::read_context_length(f) == edgeq::kDefaultMaxCtx, "default context length");
}

}  // namespace

int main() {
    test_valid_file();
    test_truncation();
    test_corrupted_fields();
    test_hostile_nesting();
    test_random_corruption();
    test_missing_and_empty();
    test_truncated_vocab();
    test_model_config_errors();
    std::remove(kPath.c_str());
    return edgeq::test::finish("test_gguf_reader");
}
