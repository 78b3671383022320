// GGUF reader: memory-mapped, zero-copy tensors, strict validation (the C++ twin of
// python/edgeq/gguf.py; the same checks, the same messages).
//
// Layout of a GGUF file (v2 and v3; all little-endian):
//     magic "GGUF", u32 version, u64 n_tensors, u64 n_kv,
//     n_kv x (string key, u32 value_type, value),
//     n_tensors x (string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset),
//     padding to `general.alignment` (default 32), then the tensor data; each tensor's offset is
//     relative to the start of the data section and aligned.
// Strings are u64 length + bytes; arrays are u32 element type + u64 count + elements.
//
// The file is untrusted input: every count, length and offset is checked against the bytes that
// remain before it is used, and every problem throws GgufError("<path>: <problem>"), one line.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "model/weights.h"

namespace edgeq {

class GgufError : public std::runtime_error {
public:
    enum Kind {
        Format,       // malformed or truncated
        Io,           // cannot open / map
        Unsupported,  // valid, but not something edgeq runs (version, architecture, tokenizer)
    };
    GgufError(const std::string& msg, Kind kind) : std::runtime_error(msg), kind(kind) {}
    Kind kind;
};

// GGUF metadata value types (the u32 after each key).
enum class GgufType : uint32_t {
    U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
    STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* gguf_type_name(GgufType t);

// One metadata value. Scalars are widened (integers to int64 / uint64, floats to double);
// strings and arrays point into the mapping (valid while the GgufFile lives).
struct GgufValue {
    GgufType type = GgufType::U8;
    // Scalars. For integer types, `u` holds the bits and `i` the signed value (a U64 above
    // INT64_MAX has i < 0: use is_int() / as_int to read it safely).
    int64_t i = 0;
    uint64_t u = 0;
    double f = 0.0;
    std::string_view str;  // STRING
    // ARRAY: element type and count; scalar elements are `count` little-endian values at `data`.
    GgufType elem = GgufType::U8;
    uint64_t count = 0;
    const uint8_t* data = nullptr;
    std::vector<std::string_view> strings;  // ARRAY of STRING
    std::vector<GgufValue> arrays;          // ARRAY of ARRAY

    bool is_int() const;    // an integer type (not BOOL)
    bool is_float() const;  // F32 / F64
    // Integer array element i as int64 / any numeric element as double (bounds: i < count).
    int64_t int_at(uint64_t i) const;
    double number_at(uint64_t i) const;
    bool elem_is_int() const;
    bool elem_is_number() const;  // integer or float elements
};

// File-format facts of a GGML tensor type (ggml.h): values per block and bytes per block.
// The full table of python/edgeq/gguf.py GGML_TYPES; name is nullptr for an unknown id.
struct GgmlTypeInfo {
    const char* name;
    int64_t block;
    int64_t bytes;
};
GgmlTypeInfo ggml_type_info(uint32_t type);
// Every known type id, ascending (the table above, for the binding's consistency test).
std::vector<uint32_t> ggml_known_types();

struct GgufTensorInfo {
    std::string name;
    uint32_t type = 0;
    std::vector<int64_t> shape;  // GGUF order: shape[0] is the row length (fastest-varying)
    uint64_t offset = 0;         // absolute offset in the file
    uint64_t nbytes = 0;
};

class GgufFile {
public:
    // Opens, maps and validates the file; throws GgufError naming the path and the problem.
    explicit GgufFile(const std::string& path);
    ~GgufFile();
    GgufFile(const GgufFile&) = delete;
    GgufFile& operator=(const GgufFile&) = delete;

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }
    size_t size() const { return size_; }

    // Metadata in file order, and lookup by key (nullptr if absent).
    const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
    const GgufValue* find(const std::string& key) const;
    std::string architecture() const;  // general.architecture, "" if absent or not a string

    const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
    const GgufTensorInfo* find_tensor(const std::string& name) const;
    const uint8_t* tensor_data(const GgufTensorInfo& t) const { return base_ + t.offset; }

    // The tensors as the C++ Model takes them (views into the mapping).
    TensorMap tensor_map() const;

    // Throw GgufError("<path>: <problem>") of kind Format / Unsupported.
    [[noreturn]] void fail(const std::string& problem, GgufError::Kind kind = GgufError::Format) const;
    [[noreturn]] void unsupported(const std::string& problem) const { fail(problem, GgufError::Unsupported); }

private:
    void parse();

    std::string path_;
    int fd_ = -1;
    const uint8_t* base_ = nullptr;
    size_t size_ = 0;
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<std::pair<std::string, GgufValue>> kv_;
    std::map<std::string, size_t> kv_index_;
    std::vector<GgufTensorInfo> tensors_;
    std::map<std::string, size_t> tensor_index_;
};

}  // namespace edgeq
