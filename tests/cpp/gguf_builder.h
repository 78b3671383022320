// Writes small GGUF files byte by byte for the reader and tokenizer tests, so that any field can
// be made wrong on purpose (the same layout as tests/python/test_gguf_malformed.py build_gguf).
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

namespace edgeq::test {

class GgufBuilder {
public:
    // Raw little-endian pieces.
    static void put_u32(std::string& b, uint32_t v) { b.append(reinterpret_cast<const char*>(&v), 4); }
    static void put_u64(std::string& b, uint64_t v) { b.append(reinterpret_cast<const char*>(&v), 8); }
    static void put_str(std::string& b, const std::string& s) {
        put_u64(b, s.size());
        b += s;
    }

    // Metadata entries (key, type, payload bytes).
    void kv_string(const std::string& key, const std::string& value) { kv(key, 8, str_bytes(value)); }
    void kv_u32(const std::string& key, uint32_t v) {
        std::string p;
        put_u32(p, v);
        kv(key, 4, p);
    }
    void kv_bool(const std::string& key, bool v) { kv(key, 7, std::string(1, v ? 1 : 0)); }
    void kv_strings(const std::string& key, const std::vector<std::string>& values) {
        std::string p;
        put_u32(p, 8);
        put_u64(p, values.size());
        for (const auto& s : values) put_str(p, s);
        kv(key, 9, p);
    }
    void kv_i32s(const std::string& key, const std::vector<int32_t>& values) {
        std::string p;
        put_u32(p, 5);
        put_u64(p, values.size());
        p.append(reinterpret_cast<const char*>(values.data()), values.size() * 4);
        kv(key, 9, p);
    }
    void kv_f32s(const std::string& key, const std::vector<float>& values) {
        std::string p;
        put_u32(p, 6);
        put_u64(p, values.size());
        p.append(reinterpret_cast<const char*>(values.data()), values.size() * 4);
        kv(key, 9, p);
    }
    void kv(const std::string& key, uint32_t type, const std::string& payload) {
        std::string e;
        put_str(e, key);
        put_u32(e, type);
        e += payload;
        kvs_.push_back(e);
    }
    // One tensor: its info; data bytes are appended after the header (offset relative to the data).
    void tensor(const std::string& name, uint32_t type, const std::vector<uint64_t>& dims, uint64_t offset) {
        std::string t;
        put_str(t, name);
        put_u32(t, (uint32_t)dims.size());
        for (uint64_t d : dims) put_u64(t, d);
        put_u32(t, type);
        put_u64(t, offset);
        tensors_.push_back(t);
    }

    // The file: header (counts may be overridden) + padding to `alignment` + data.
    std::string build(const std::string& data, uint32_t version = 3, uint64_t alignment = 32, int64_t n_tensors = -1,
                      int64_t n_kv = -1) const {
        std::string b = "GGUF";
        put_u32(b, version);
        put_u64(b, n_tensors >= 0 ? (uint64_t)n_tensors : tensors_.size());
        put_u64(b, n_kv >= 0 ? (uint64_t)n_kv : kvs_.size());
        for (const auto& e : kvs_) b += e;
        for (const auto& t : tensors_) b += t;
        while (b.size() % alignment) b += '\0';
        return b + data;
    }

    static std::string str_bytes(const std::string& s) {
        std::string b;
        put_str(b, s);
        return b;
    }

private:
    std::vector<std::string> kvs_, tensors_;
};

inline std::string temp_path(const std::string& name) {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/edgeq_test_" + std::to_string(::getpid()) + "_" + name;
}

inline void write_file(const std::string& path, const std::string& bytes) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) {
        std::perror(path.c_str());
        std::exit(2);
    }
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
}

inline std::string read_file(const std::string& path) {
    std::string out;
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return out;
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
    std::fclose(f);
    return out;
}

// $EDGEQ_SHARED_DATA, else the CMake default (../shared/data next to the repository).
inline std::string shared_data_dir() {
    const char* env = std::getenv("EDGEQ_SHARED_DATA");
    if (env && *env) return env;
#ifdef EDGEQ_SHARED_DATA_DEFAULT
    return EDGEQ_SHARED_DATA_DEFAULT;
#else
    return "../shared/data";
#endif
}

}  // namespace edgeq::test
