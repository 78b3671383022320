#include "gguf/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace edgeq {

namespace {

constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;        // ggml's GGML_MAX_DIMS
constexpr int kMaxArrayNesting = 8;     // arrays of arrays: deeper is hostile (and would recurse)
constexpr int64_t kMaxElements = int64_t(1) << 50;

struct TypeRow {
    uint32_t id;
    GgmlTypeInfo info;
};
// ggml type id -> (name, values per block, bytes per block). File-format facts (ggml.h),
// the same table as python/edgeq/gguf.py GGML_TYPES (a Python test checks they agree).
const TypeRow kTypes[] = {
    {0, {"F32", 1, 4}}, {1, {"F16", 1, 2}}, {2, {"Q4_0", 32, 18}}, {3, {"Q4_1", 32, 20}},
    {6, {"Q5_0", 32, 22}}, {7, {"Q5_1", 32, 24}}, {8, {"Q8_0", 32, 34}}, {9, {"Q8_1", 32, 36}},
    {10, {"Q2_K", 256, 84}}, {11, {"Q3_K", 256, 110}}, {12, {"Q4_K", 256, 144}},
    {13, {"Q5_K", 256, 176}}, {14, {"Q6_K", 256, 210}}, {15, {"Q8_K", 256, 292}},
    {16, {"IQ2_XXS", 256, 66}}, {17, {"IQ2_XS", 256, 74}}, {18, {"IQ3_XXS", 256, 98}},
    {19, {"IQ1_S", 256, 50}}, {20, {"IQ4_NL", 32, 18}}, {21, {"IQ3_S", 256, 110}},
    {22, {"IQ2_S", 256, 82}}, {23, {"IQ4_XS", 256, 136}}, {24, {"I8", 1, 1}}, {25, {"I16", 1, 2}},
    {26, {"I32", 1, 4}}, {27, {"I64", 1, 8}}, {28, {"F64", 1, 8}}, {29, {"IQ1_M", 256, 56}},
    {30, {"BF16", 1, 2}}, {34, {"TQ1_0", 256, 54}}, {35, {"TQ2_0", 256, 66}}, {36, {"I2_S", 128, 32}},
    {39, {"MXFP4", 32, 17}}, {40, {"NVFP4", 64, 36}}, {41, {"Q1_0", 128, 18}},
};

// Bytes a tensor of the type holds after its blocks, once per tensor (python/edgeq/gguf.py
// TENSOR_TRAILER_BYTES): I2_S, bitnet.cpp's ternary type, ends with one f32 scale and 28 bytes of
// padding (ggml_nbytes = n / 4 + 32 in bitnet.cpp's ggml fork; layout in cpp/model/i2s.h).
uint64_t tensor_trailer_bytes(uint32_t type) { return type == 36 ? 32 : 0; }

// Bytes of each scalar metadata type; 0 for STRING / ARRAY / unknown.
size_t scalar_size(uint32_t t) {
    switch (static_cast<GgufType>(t)) {
        case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
        case GgufType::U16: case GgufType::I16: return 2;
        case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
        case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
        default: return 0;
    }
}

bool is_int_type(GgufType t) {
    switch (t) {
        case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16:
        case GgufType::U32: case GgufType::I32: case GgufType::U64: case GgufType::I64: return true;
        default: return false;
    }
}

// Reads one little-endian scalar of type t at p into v (i/u for integers and bool, f for floats).
void read_scalar(GgufType t, const uint8_t* p, GgufValue& v) {
    switch (t) {
        case GgufType::U8: v.u = p[0]; v.i = (int64_t)v.u; break;
        case GgufType::I8: v.i = (int8_t)p[0]; v.u = (uint64_t)v.i; break;
        case GgufType::BOOL: v.u = p[0] != 0; v.i = (int64_t)v.u; break;
        case GgufType::U16: { uint16_t x; std::memcpy(&x, p, 2); v.u = x; v.i = x; break; }
        case GgufType::I16: { int16_t x; std::memcpy(&x, p, 2); v.i = x; v.u = (uint64_t)v.i; break; }
        case GgufType::U32: { uint32_t x; std::memcpy(&x, p, 4); v.u = x; v.i = x; break; }
        case GgufType::I32: { int32_t x; std::memcpy(&x, p, 4); v.i = x; v.u = (uint64_t)v.i; break; }
        case GgufType::U64: { uint64_t x; std::memcpy(&x, p, 8); v.u = x; v.i = (int64_t)x; break; }
        case GgufType::I64: { int64_t x; std::memcpy(&x, p, 8); v.i = x; v.u = (uint64_t)x; break; }
        case GgufType::F32: { float x; std::memcpy(&x, p, 4); v.f = x; break; }
        case GgufType::F64: { double x; std::memcpy(&x, p, 8); v.f = x; break; }
        default: break;
    }
    if (is_int_type(t) || t == GgufType::BOOL) v.f = (t == GgufType::U64) ? (double)v.u : (double)v.i;
}

// Text from the file inside a one-line message: control bytes become \xNN.
std::string printable(std::string_view s) {
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
        if (c < 0x20 || c == 0x7f) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += (char)c;
        }
    }
    return out;
}

// Bounds-checked little-endian reader over the mapped header.
class Cursor {
public:
    Cursor(const GgufFile& f, const uint8_t* base, size_t size) : f_(f), base_(base), size_(size) {}
    size_t pos = 0;

    size_t remaining() const { return size_ - pos; }

    void need(uint64_t n, const std::string& what) const {
        if (n > remaining())
            f_.fail("truncated file: " + what + " needs " + std::to_string(n) + " bytes at offset " +
                    std::to_string(pos) + ", but the file has " + std::to_string(size_) + " bytes");
    }
    // count elements of elem_size bytes each, without overflowing count * elem_size.
    void need_elems(uint64_t count, uint64_t elem_size, const std::string& what) const {
        if (count > remaining() / elem_size)
            f_.fail("truncated file: " + what + " needs " + std::to_string(count) + " x " +
                    std::to_string(elem_size) + " bytes at offset " + std::to_string(pos) +
                    ", but the file has " + std::to_string(size_) + " bytes");
    }
    template <class T>
    T read(const std::string& what) {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, base_ + pos, sizeof(T));
        pos += sizeof(T);
        return v;
    }
    uint32_t u32(const std::string& what) { return read<uint32_t>(what); }
    uint64_t u64(const std::string& what) { return read<uint64_t>(what); }
    std::string_view string(const std::string& what) {
        const uint64_t n = u64("length of " + what);
        need(n, what);
        std::string_view s(reinterpret_cast<const char*>(base_ + pos), n);
        pos += n;
        return s;
    }

    GgufValue value(uint32_t vtype, const std::string& what, int depth = 0) {
        GgufValue v;
        v.type = static_cast<GgufType>(vtype);
        if (const size_t sz = scalar_size(vtype)) {
            need(sz, what);
            read_scalar(v.type, base_ + pos, v);
            pos += sz;
            return v;
        }
        if (v.type == GgufType::STRING) {
            v.str = string(what);
            return v;
        }
        if (v.type != GgufType::ARRAY) f_.fail(what + ": unknown metadata value type " + std::to_string(vtype));
        const uint32_t etype = u32("element type of " + what);
        const uint64_t count = u64("element count of " + what);
        v.elem = static_cast<GgufType>(etype);
        v.count = count;
        if (const size_t sz = scalar_size(etype)) {
            need_elems(count, sz, std::to_string(count) + " elements of " + what);
            v.data = base_ + pos;
            pos += count * sz;
            return v;
        }
        if (v.elem == GgufType::STRING) {
            // Every string takes at least its 8-byte length: reject absurd counts up front.
            need_elems(count, 8, std::to_string(count) + " strings of " + what);
            v.strings.reserve(count);
            for (uint64_t i = 0; i < count; i++) v.strings.push_back(string(what + "[" + std::to_string(i) + "]"));
            return v;
        }
        if (v.elem == GgufType::ARRAY) {
            if (depth >= kMaxArrayNesting) f_.fail(what + ": arrays nested more than " + std::to_string(kMaxArrayNesting) + " deep");
            need_elems(count, 12, std::to_string(count) + " nested arrays of " + what);
            v.arrays.reserve(count);
            for (uint64_t i = 0; i < count; i++)
                v.arrays.push_back(value(vtype, what + "[" + std::to_string(i) + "]", depth + 1));
            return v;
        }
        f_.fail(what + ": unknown array element type " + std::to_string(etype));
    }

private:
    const GgufFile& f_;
    const uint8_t* base_;
    size_t size_;
};

}  // namespace

const char* gguf_type_name(GgufType t) {
    static const char* names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                                  "string", "array", "u64", "i64", "f64"};
    const uint32_t i = static_cast<uint32_t>(t);
    return i < 13 ? names[i] : "unknown";
}

bool GgufValue::is_int() const { return is_int_type(type); }
bool GgufValue::is_float() const { return type == GgufType::F32 || type == GgufType::F64; }
bool GgufValue::elem_is_int() const { return type == GgufType::ARRAY && is_int_type(elem); }
bool GgufValue::elem_is_number() const {
    return type == GgufType::ARRAY && (is_int_type(elem) || elem == GgufType::F32 || elem == GgufType::F64);
}

int64_t GgufValue::int_at(uint64_t idx) const {
    GgufValue e;
    read_scalar(elem, data + idx * scalar_size(static_cast<uint32_t>(elem)), e);
    return e.i;
}

double GgufValue::number_at(uint64_t idx) const {
    GgufValue e;
    read_scalar(elem, data + idx * scalar_size(static_cast<uint32_t>(elem)), e);
    return e.f;
}

GgmlTypeInfo ggml_type_info(uint32_t type) {
    for (const auto& row : kTypes)
        if (row.id == type) return row.info;
    return {nullptr, 0, 0};
}

std::vector<uint32_t> ggml_known_types() {
    std::vector<uint32_t> out;
    for (const auto& row : kTypes) out.push_back(row.id);
    return out;
}

void GgufFile::fail(const std::string& problem, GgufError::Kind kind) const {
    throw GgufError(path_ + ": " + printable(problem), kind);
}

GgufFile::GgufFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) fail(std::string("cannot open: ") + std::strerror(errno), GgufError::Io);
    try {
        struct stat st;
        if (::fstat(fd_, &st) != 0) fail(std::string("cannot stat: ") + std::strerror(errno), GgufError::Io);
        if (!S_ISREG(st.st_mode)) fail("not a regular file", GgufError::Io);
        if (st.st_size == 0) fail("empty file, not a GGUF file");
        size_ = (size_t)st.st_size;
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd_, 0);
        if (p == MAP_FAILED) fail(std::string("cannot map: ") + std::strerror(errno), GgufError::Io);
        base_ = static_cast<const uint8_t*>(p);
        parse();
    } catch (...) {
        if (base_) ::munmap(const_cast<uint8_t*>(base_), size_);
        ::close(fd_);
        throw;
    }
}

GgufFile::~GgufFile() {
    if (base_) ::munmap(const_cast<uint8_t*>(base_), size_);
    if (fd_ >= 0) ::close(fd_);
}

void GgufFile::parse() {
    Cursor c(*this, base_, size_);
    c.need(4, "magic");
    if (std::memcmp(base_, "GGUF", 4) != 0)
        fail("bad magic '" + std::string(reinterpret_cast<const char*>(base_), 4) + "': not a GGUF file");
    c.pos = 4;
    version_ = c.u32("version");
    if (version_ == 1) unsupported("GGUF version 1 is not supported (convert it to v3 with llama.cpp's tools)");
    if (version_ != 2 && version_ != 3) {
        if ((version_ & 0xFFFF) == 0 && ((version_ >> 16) == 2 || (version_ >> 16) == 3))
            unsupported("big-endian GGUF files are not supported");
        unsupported("unsupported GGUF version " + std::to_string(version_));
    }
    const uint64_t n_tensors = c.u64("tensor count");
    const uint64_t n_kv = c.u64("metadata count");
    // Each KV takes >= 12 bytes (key length + type), each tensor info >= 24 bytes.
    if (n_kv > c.remaining() / 12) fail("metadata count " + std::to_string(n_kv) + " is larger than the file can hold");
    if (n_tensors > c.remaining() / 24)
        fail("tensor count " + std::to_string(n_tensors) + " is larger than the file can hold");

    kv_.reserve(n_kv);
    for (uint64_t i = 0; i < n_kv; i++) {
        std::string key(c.string("key of metadata entry " + std::to_string(i)));
        const uint32_t vtype = c.u32("type of metadata '" + key + "'");
        GgufValue v = c.value(vtype, "metadata '" + key + "'");
        kv_index_[key] = kv_.size();
        kv_.emplace_back(std::move(key), std::move(v));
    }

    if (const GgufValue* a = find("general.alignment")) {
        const bool positive = a->type == GgufType::U64 ? a->u > 0 : a->i > 0;
        const bool ok = a->is_int() && positive && (a->u & (a->u - 1)) == 0;
        if (!ok) {
            const std::string got = a->is_int() ? std::to_string(a->i)
                                    : a->is_float() ? std::to_string(a->f)
                                                    : std::string("a ") + gguf_type_name(a->type);
            fail("general.alignment must be a positive power of two, got " + got);
        }
        alignment_ = a->u;
    }

    struct Raw {
        std::string name;
        std::vector<uint64_t> shape;
        uint32_t type;
        uint64_t offset;
    };
    std::vector<Raw> raw;
    raw.reserve(n_tensors);
    for (uint64_t i = 0; i < n_tensors; i++) {
        Raw r;
        r.name = std::string(c.string("name of tensor " + std::to_string(i)));
        const uint32_t n_dims = c.u32("dimension count of tensor '" + r.name + "'");
        if (n_dims == 0 || n_dims > kMaxDims)
            fail("tensor '" + r.name + "' has " + std::to_string(n_dims) + " dimensions (1.." +
                 std::to_string(kMaxDims) + " allowed)");
        for (uint32_t d = 0; d < n_dims; d++) r.shape.push_back(c.u64("shape of tensor '" + r.name + "'"));
        r.type = c.u32("type of tensor '" + r.name + "'");
        r.offset = c.u64("offset of tensor '" + r.name + "'");
        raw.push_back(std::move(r));
    }

    // The header ends within the file, so this cannot overflow.
    data_offset_ = (c.pos + alignment_ - 1) / alignment_ * alignment_;
    tensors_.reserve(raw.size());
    for (Raw& r : raw) {
        auto shape_str = [&] {
            std::string s = "(";
            for (size_t d = 0; d < r.shape.size(); d++) s += (d ? ", " : "") + std::to_string(r.shape[d]);
            return s + (r.shape.size() == 1 ? ",)" : ")");
        };
        if (tensor_index_.count(r.name)) fail("duplicate tensor name '" + r.name + "'");
        const GgmlTypeInfo ti = ggml_type_info(r.type);
        if (!ti.name) fail("tensor '" + r.name + "' has unknown type " + std::to_string(r.type));
        for (uint64_t d : r.shape)
            if (d == 0) fail("tensor '" + r.name + "' has a zero or negative dimension " + shape_str());
        uint64_t n = 1;
        for (uint64_t d : r.shape) {
            if (d > (uint64_t)kMaxElements || n > (uint64_t)kMaxElements / d)
                fail("tensor '" + r.name + "' shape " + shape_str() + " is impossibly large");
            n *= d;
        }
        if (r.shape[0] % (uint64_t)ti.block)
            fail("tensor '" + r.name + "': row length " + std::to_string(r.shape[0]) + " is not a multiple of the " +
                 ti.name + " block size " + std::to_string(ti.block));
        const uint64_t nbytes = n / (uint64_t)ti.block * (uint64_t)ti.bytes  // <= 2^50 * 292: no overflow
                                + tensor_trailer_bytes(r.type);
        if (r.offset % alignment_)
            fail("tensor '" + r.name + "' offset " + std::to_string(r.offset) + " is not aligned to " +
                 std::to_string(alignment_));
        const uint64_t start = data_offset_ + r.offset;  // may exceed the file: checked next
        if (r.offset > size_ || start > size_ || nbytes > size_ - start)
            fail("tensor '" + r.name + "' (" + ti.name + ", " + std::to_string(nbytes) + " bytes at offset " +
                 std::to_string(r.offset > size_ ? r.offset : start) + ") extends past the end of the file (" +
                 std::to_string(size_) + " bytes): truncated file?");
        GgufTensorInfo t;
        t.name = std::move(r.name);
        t.type = r.type;
        for (uint64_t d : r.shape) t.shape.push_back((int64_t)d);
        t.offset = start;
        t.nbytes = nbytes;
        tensor_index_[t.name] = tensors_.size();
        tensors_.push_back(std::move(t));
    }
}

const GgufValue* GgufFile::find(const std::string& key) const {
    auto it = kv_index_.find(key);
    return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

std::string GgufFile::architecture() const {
    const GgufValue* v = find("general.architecture");
    return v && v->type == GgufType::STRING ? std::string(v->str) : std::string();
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

TensorMap GgufFile::tensor_map() const {
    TensorMap map;
    for (const auto& t : tensors_) {
        TensorView v;
        v.type = t.type;
        v.shape = t.shape;
        v.data = tensor_data(t);
        v.nbytes = (size_t)t.nbytes;
        map[t.name] = std::move(v);
    }
    return map;
}

}  // namespace edgeq
