// The C++ tokenizer (cpp/tokenizer) on llama.cpp's tokenizer test cases: for every input of
// shared/data/vocab/ggml-vocab-{llama-bpe,gpt-2,llama-spm}.gguf.inp, encode(text, add_special =
// false, parse_special = false) must give exactly the ids of the .out line (llama.cpp's
// tests/test-tokenizer-0.cpp), and decoding the expected ids must give the input back. Plus
// BOS / stop ids, parse_special, byte-level decoding, and the error for an unsupported
// pre-tokenizer.
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "gguf/gguf.h"
#include "gguf_builder.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

using edgeq::GgufFile;
using edgeq::Tokenizer;

namespace {

using edgeq::test::expect_true;

std::string ids_str(const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
    return s;
}

// (input, expected ids) pairs as test-tokenizer-0.cpp reads them: inputs separated by
// "\n__ggml_vocab_test__\n" (a final separator ends the last input), one line of ids per input.
std::vector<std::pair<std::string, std::vector<int32_t>>> read_cases(const std::string& gguf) {
    const std::string sep = "\n__ggml_vocab_test__\n";
    const std::string inp = edgeq::test::read_file(gguf + ".inp");
    const std::string outp = edgeq::test::read_file(gguf + ".out");
    std::vector<std::string> inputs;
    for (size_t pos = 0; pos < inp.size();) {
        const size_t next = inp.find(sep, pos);
        if (next == std::string::npos) {
            inputs.push_back(inp.substr(pos));
            break;
        }
        inputs.push_back(inp.substr(pos, next - pos));
        pos = next + sep.size();
    }
    std::vector<std::string> lines;
    std::stringstream ss(outp);
    for (std::string line; std::getline(ss, line);) lines.push_back(line);
    std::vector<std::pair<std::string, std::vector<int32_t>>> cases;
    if (inputs.size() != lines.size()) {
        std::fprintf(stderr, "FAIL %s: %zu inputs, %zu outputs\n", gguf.c_str(), inputs.size(), lines.size());
        edgeq::test::counters().failures++;
        return cases;
    }
    for (size_t i = 0; i < inputs.size(); i++) {
        std::vector<int32_t> ids;
        std::stringstream ls(lines[i]);
        for (int32_t id; ls >> id;) ids.push_back(id);
        cases.push_back({inputs[i], ids});
    }
    return cases;
}

void test_llama_cpp_cases(const std::string& dir, const char* name) {
    const std::string path = dir + "/vocab/ggml-vocab-" + name + ".gguf";
    GgufFile g(path);
    const Tokenizer tok(g);
    const auto cases = read_cases(path);
    int failures = 0;
    for (const auto& [text, expected] : cases) {
        const std::vector<int32_t> got = tok.encode(text, false, false);
        edgeq::test::counters().comparisons++;
        if (got != expected) {
            std::fprintf(stderr, "FAIL %s: encode '%s': expected [%s], got [%s]\n", name, text.c_str(),
                         ids_str(expected).c_str(), ids_str(got).c_str());
            edgeq::test::counters().failures++;
            failures++;
        }
        const std::string back = tok.decode(expected.data(), expected.size(), false);
        expect_true(back == text, std::string(name) + ": decode [" + ids_str(expected) + "] -> '" + back + "', not '" + text + "'");
    }
    std::printf("%s: %zu cases compared, %d encode failures\n", name, cases.size(), failures);
    expect_true(cases.size() > 30, std::string(name) + ": enough cases");
}

void test_specials(const std::string& dir) {
    {
        GgufFile g(dir + "/vocab/ggml-vocab-llama-spm.gguf");
        const Tokenizer spm(g);
        const std::vector<int32_t> plain = spm.encode("Hello", false, false);
        std::vector<int32_t> with_bos = {1};
        with_bos.insert(with_bos.end(), plain.begin(), plain.end());
        expect_true(spm.add_bos() && !spm.add_eos() && spm.bos_id() == 1 && spm.eos_id() == 2, "spm: BOS / EOS defaults");
        expect_true(spm.encode("Hello", true, false) == with_bos, "spm: add_special puts BOS first");
        expect_true(spm.encode("", true, false) == std::vector<int32_t>{1} && spm.encode("", false, false).empty(), "spm: empty");
        expect_true(spm.is_stop(2), "spm: EOS stops");
        // parse_special: "<s>Hello</s>world" -> BOS, "▁Hello"..., EOS, "▁world"...
        const std::vector<int32_t> ids = spm.encode("<s>Hello</s>world", false, true);
        std::vector<int32_t> want = {1};
        for (int32_t id : spm.encode("Hello", false, false)) want.push_back(id);
        want.push_back(2);
        for (int32_t id : spm.encode("world", false, false)) want.push_back(id);
        expect_true(ids == want, "spm: parse_special splits at control tokens, prefix space after each");
        const std::vector<int32_t> as_text = spm.encode("<s>Hello</s>world", false, false);
        expect_true(std::find(as_text.begin(), as_text.end(), 1) == as_text.end(), "spm: control text stays text");
        expect_true(spm.decode(ids.data(), ids.size(), false) == "<s>Hello</s>world", "spm: decode with specials");
        expect_true(spm.decode(ids.data(), ids.size(), true) == "Helloworld", "spm: decode skip_special");
        // Byte fallback: a character outside the vocabulary becomes <0xXX> tokens and decodes back.
        const std::string rare = "\xF0\x9F\xA6\x99";  // U+1F999
        const std::vector<int32_t> rb = spm.encode(rare, false, false);
        expect_true(spm.decode(rb.data(), rb.size(), false) == rare, "spm: byte fallback round trip");
    }
    {
        GgufFile g(dir + "/vocab/ggml-vocab-llama-bpe.gguf");
        const Tokenizer llama3(g);
        expect_true(llama3.add_bos() && llama3.bos_id() == 128000, "llama-bpe: add_bos, BOS 128000");
        expect_true(llama3.encode("Hi", true, false)[0] == 128000 && llama3.encode("Hi", false, false)[0] != 128000,
              "llama-bpe: BOS only with add_special");
        expect_true(llama3.eot_id() >= 0 && llama3.piece(llama3.eot_id()) == "<|eot_id|>", "llama-bpe: EOT is <|eot_id|>");
        expect_true(llama3.is_stop(llama3.eot_id()) && llama3.is_stop(llama3.eos_id()), "llama-bpe: EOS and EOT stop");
        const std::vector<int32_t> ids =
            llama3.encode("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", false, true);
        expect_true(ids.size() >= 4 && ids.front() == llama3.token_id("<|start_header_id|>") && ids.back() == llama3.eot_id(),
              "llama-bpe: parse_special");
        // Every byte value survives a round trip through the byte-level alphabet.
        std::string all;
        for (int b = 1; b < 256; b++) all += (char)b;
        const std::string valid = "caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80 \t\n  x";
        const std::vector<int32_t> vi = llama3.encode(valid, false, false);
        expect_true(llama3.decode(vi.data(), vi.size(), false) == valid, "llama-bpe: round trip of mixed text");
    }
    {
        GgufFile g(dir + "/vocab/ggml-vocab-gpt-2.gguf");
        const Tokenizer gpt2(g);
        expect_true(!gpt2.add_bos() && gpt2.encode("Hi", true, false) == gpt2.encode("Hi", false, false),
              "gpt-2: no BOS by default");
        expect_true(gpt2.piece(gpt2.eos_id()) == "<|endoftext|>" && gpt2.is_stop(gpt2.eos_id()), "gpt-2: EOS");
        const std::string& space = gpt2.token_to_bytes(gpt2.token_id("\xC4\xA0"));  // "Ġ" is the byte 0x20
        expect_true(space == " ", "gpt-2: byte-level decoding of 'G-dot'");
    }
}

void test_unsupported_pre() {
    edgeq::test::GgufBuilder b;
    b.kv_string("tokenizer.ggml.model", "gpt2");
    b.kv_string("tokenizer.ggml.pre", "qwen2");
    b.kv_strings("tokenizer.ggml.tokens", {"a", "b", "ab"});
    b.kv_strings("tokenizer.ggml.merges", {"a b"});
    const std::string path = edgeq::test::temp_path("pre.gguf");
    edgeq::test::write_file(path, b.build(""));
    GgufFile g(path);
    edgeq::test::counters().comparisons++;
    try {
        Tokenizer t(g);
        std::fprintf(stderr, "FAIL unsupported pre: no error\n");
        edgeq::test::counters().failures++;
    } catch (const edgeq::GgufError& e) {
        const std::string msg = e.what();
        const bool ok = e.kind == edgeq::GgufError::Unsupported && msg.find("'qwen2'") != std::string::npos &&
                        msg.find("smollm") != std::string::npos && msg.find("llama-bpe") != std::string::npos &&
                        msg.find("gpt-2") != std::string::npos;
        if (!ok) {
            std::fprintf(stderr, "FAIL unsupported pre: %s\n", msg.c_str());
            edgeq::test::counters().failures++;
        }
    }
    std::remove(path.c_str());
}

}  // namespace

int main() {
    const std::string dir = edgeq::test::shared_data_dir();
    if (edgeq::test::read_file(dir + "/vocab/ggml-vocab-gpt-2.gguf.inp").empty()) {
        std::printf("test_tokenizer_vocab: FAIL: shared data not found at %s (set EDGEQ_SHARED_DATA)\n", dir.c_str());
        return 1;
    }
    for (const char* name : {"llama-bpe", "gpt-2", "llama-spm"}) test_llama_cpp_cases(dir, name);
    test_specials(dir);
    test_unsupported_pre();
    return edgeq::test::finish("test_tokenizer_vocab");
}
