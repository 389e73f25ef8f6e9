#include "loom/core/ndarray.h"

#include <cstring>
#include <string>

#include "elementwise.h"
#include "gpu_memory.h"
#include "loom/scheduler/error.h"

namespace loom {

namespace detail {

NDArrayChunk::NDArrayChunk(Storage block)
    : storage(std::move(block)), var(Engine::Get().NewVariable()) {}

NDArrayChunk::~NDArrayChunk() {
  // The callback takes over the block: it goes back to the pool only after the engine has run
  // every operation pushed on var, so pending operations never see freed memory.
  const Context ctx = storage.ctx();
  Engine::Get().DeleteVariable([block = std::move(storage)](RunContext) mutable { block = {}; },
                               ctx, var);
}

}  // namespace detail

namespace {

using detail::ArithOp;

bool IsValidDType(DType dtype) { return static_cast<int>(dtype) >= 0 && dtype < DType::kCount; }

// ToString for any value, also codes outside the enum.
std::string DTypeName(DType dtype) {
  if (IsValidDType(dtype) || dtype == DType::kUnknown) return ToString(dtype);
  return "dtype code " + std::to_string(static_cast<int>(dtype));
}

// A new array on ctx filled with value, by an engine operation called `name`.
NDArray Filled(const Shape& shape, double value, Context ctx, DType dtype, const char* name) {
  NDArray out = NDArray::Empty(shape, ctx, dtype);
  if (!ctx.is_host()) {
    out.CopyFrom(Filled(shape, value, Context::CPU(), dtype, name));
    return out;
  }
  void* dst = out.data();
  const auto n = static_cast<size_t>(out.size());
  Engine::Get().Push([=](RunContext) { detail::FillKernel(dtype, dst, n, value); }, ctx, {},
                     {out.var()}, 0, name);
  return out;
}

void CheckOperand(const NDArray& a, const char* verb) {
  LOOM_CHECK(!a.is_none(), "cannot ", verb, " a none NDArray (default-constructed)");
}

// Arithmetic runs on host memory only, and not on bool: say so before pushing anything.
void CheckComputable(const NDArray& a, ArithOp op, bool scalar, bool reverse) {
  const char* name = detail::ArithOpName(op, scalar, reverse);
  LOOM_CHECK_TYPED(DTypeError, a.dtype() != DType::kBool, "cannot ", detail::ArithOpVerb(op),
                   " arrays of dtype bool: ", name,
                   " has no bool kernel (convert with AsType first)");
  LOOM_CHECK_TYPED(NotSupportedError, a.ctx().is_host(), name, " has no kernel for ",
                   a.ctx().ToString(), " yet: NDArray arithmetic runs on CPU contexts (GPU ",
                   "kernels come with the operator layer); copy with CopyTo(Context::CPU())");
}

void CheckOperands(const NDArray& a, const NDArray& b, ArithOp op) {
  const char* verb = detail::ArithOpVerb(op);
  CheckOperand(a, verb);
  CheckOperand(b, verb);
  LOOM_CHECK_TYPED(ShapeError, a.shape() == b.shape(), "cannot ", verb, " arrays of shape ",
                   a.shape().ToString(), " and ", b.shape().ToString());
  LOOM_CHECK_TYPED(DTypeError, a.dtype() == b.dtype(), "cannot ", verb, " arrays of dtype ",
                   ToString(a.dtype()), " and ", ToString(b.dtype()), ": expected dtype ",
                   ToString(a.dtype()), " but got ", ToString(b.dtype()));
  LOOM_CHECK(a.ctx() == b.ctx(), "cannot ", verb, " arrays on different contexts ",
             a.ctx().ToString(), " and ", b.ctx().ToString(),
             ": copy one of them with CopyTo first");
  CheckComputable(a, op, false, false);
}

// out = a op b; out may be a (in place).
void PushBinary(ArithOp op, const NDArray& a, const NDArray& b, const NDArray& out) {
  const void* x = a.data();
  const void* y = b.data();
  void* z = out.data();
  const auto n = static_cast<size_t>(a.size());
  const DType dtype = a.dtype();
  Engine::Get().Push([=](RunContext) { detail::BinaryKernel(op, dtype, x, y, z, n); }, a.ctx(),
                     {a.var(), b.var()}, {out.var()}, 0, detail::ArithOpName(op, false, false));
}

// out = a op scalar (scalar op a when reverse); out may be a (in place).
void PushScalar(ArithOp op, bool reverse, const NDArray& a, double scalar, const NDArray& out) {
  const void* x = a.data();
  void* z = out.data();
  const auto n = static_cast<size_t>(a.size());
  const DType dtype = a.dtype();
  Engine::Get().Push([=](RunContext) { detail::ScalarKernel(op, reverse, dtype, x, scalar, z, n); },
                     a.ctx(), {a.var()}, {out.var()}, 0, detail::ArithOpName(op, true, reverse));
}

NDArray Binary(ArithOp op, const NDArray& a, const NDArray& b) {
  CheckOperands(a, b, op);
  NDArray out = NDArray::Empty(a.shape(), a.ctx(), a.dtype());
  PushBinary(op, a, b, out);
  return out;
}

NDArray Scalar(ArithOp op, bool reverse, const NDArray& a, double scalar) {
  CheckOperand(a, detail::ArithOpVerb(op));
  CheckComputable(a, op, true, reverse);
  NDArray out = NDArray::Empty(a.shape(), a.ctx(), a.dtype());
  PushScalar(op, reverse, a, scalar, out);
  return out;
}

}  // namespace

NDArray NDArray::Empty(const Shape& shape, Context ctx, DType dtype) {
  LOOM_CHECK_TYPED(DTypeError, IsValidDType(dtype),
                   "expected the dtype of a new array to be one of float32, float64, float16, "
                   "uint8, int32, int8, int64, bool but got ",
                   DTypeName(dtype));
  for (int64_t d : shape) {
    LOOM_CHECK_TYPED(ShapeError, d >= 0, "expected the dimensions of a new array to be >= 0 ",
                     "but got shape ", shape.ToString());
  }
  NDArray out;
  out.chunk_ = std::make_shared<detail::NDArrayChunk>(
      Storage::Alloc(ctx, static_cast<size_t>(shape.Size()) * DTypeSize(dtype)));
  out.shape_ = shape;
  out.dtype_ = dtype;
  return out;
}

NDArray NDArray::Zeros(const Shape& shape, Context ctx, DType dtype) {
  return Filled(shape, 0, ctx, dtype, "_zeros");
}

NDArray NDArray::Ones(const Shape& shape, Context ctx, DType dtype) {
  return Filled(shape, 1, ctx, dtype, "_ones");
}

NDArray NDArray::Full(const Shape& shape, double value, Context ctx, DType dtype) {
  return Filled(shape, value, ctx, dtype, "_full");
}

NDArray NDArray::FromHostBytes(const void* data, size_t count, DType dtype, const Shape& shape,
                               Context ctx) {
  NDArray out = Empty(shape, ctx, dtype);
  LOOM_CHECK_TYPED(ShapeError, count == static_cast<size_t>(shape.Size()), "expected ",
                   shape.Size(), " values for an array of shape ", shape.ToString(), " but got ",
                   count);
  if (!ctx.is_host()) {
    out.CopyFrom(FromHostBytes(data, count, dtype, shape, Context::CPU()));
  } else if (out.nbytes() > 0) {
    // Nothing can be pending on a variable created just now: copy right away.
    std::memcpy(out.data(), data, out.nbytes());
  }
  return out;
}

const Storage& NDArray::storage() const {
  static const Storage kNone;
  return chunk_ ? chunk_->storage : kNone;
}

void* NDArray::data() const {
  if (!chunk_ || chunk_->storage.data() == nullptr) return nullptr;
  return static_cast<char*>(chunk_->storage.data()) + offset_;
}

uint64_t NDArray::version() const { return chunk_ ? Engine::Get().Version(chunk_->var) : 0; }

void NDArray::CheckNotNone(const char* what) const {
  LOOM_CHECK(!is_none(), "cannot ", what, " a none NDArray (default-constructed)");
}

void NDArray::CheckElementType(DType type) const {
  CheckNotNone("access the elements of");
  LOOM_CHECK_TYPED(DTypeError, type == dtype_, "cannot access an array of dtype ", ToString(dtype_),
                   " as ", ToString(type), ": expected dtype ", ToString(dtype_), " but got ",
                   ToString(type));
}

void NDArray::WaitToRead() const {
  CheckNotNone("wait for");
  Engine::Get().WaitForVar(chunk_->var);
}

void NDArray::WaitToWrite() const {
  CheckNotNone("wait for");
  // An empty write waits for every earlier read and write; waiting for it then covers both.
  Engine::Get().Push([](RunContext) {}, ctx(), {}, {chunk_->var}, 0, "WaitToWrite");
  Engine::Get().WaitForVar(chunk_->var);
}

NDArray NDArray::CopyTo(Context ctx) const {
  CheckNotNone("copy");
  NDArray out = Empty(shape_, ctx, dtype_);
  out.CopyFrom(*this);
  return out;
}

void NDArray::CopyFrom(const NDArray& src) {
  CheckNotNone("copy into");
  src.CheckNotNone("copy from");
  LOOM_CHECK_TYPED(ShapeError, shape_ == src.shape_, "cannot copy an array of shape ",
                   src.shape_.ToString(), " into an array of shape ", shape_.ToString());
  LOOM_CHECK_TYPED(DTypeError, dtype_ == src.dtype_, "cannot copy an array of dtype ",
                   ToString(src.dtype_), " into an array of dtype ", ToString(dtype_),
                   ": expected dtype ", ToString(dtype_), " but got ", ToString(src.dtype_),
                   " (convert with AsType first)");
  const Context from = src.ctx(), to = ctx();
  const void* source = src.data();
  void* dest = data();
  const size_t bytes = nbytes();
  Engine& engine = Engine::Get();
  if (from.is_host() && to.is_host()) {
    // memmove: views of one block may overlap.
    engine.Push(
        [=](RunContext) {
          if (bytes > 0) std::memmove(dest, source, bytes);
        },
        to, {src.var()}, {var()}, 0, "_copyto");
  } else {
    // As MXNet: into a GPU on the destination's copy stream, out of a GPU on the source's.
    const bool to_gpu = from.is_host();
    engine.Push([=](RunContext rc) { detail::GpuMemory().Copy(dest, source, bytes, rc.stream); },
                to_gpu ? to : from, {src.var()}, {var()}, 0, "_copyto",
                to_gpu ? FnProperty::kCopyToGPU : FnProperty::kCopyFromGPU);
  }
}

void NDArray::CopyToHostBytes(void* dst, size_t count, DType type) const {
  CheckElementType(type);
  LOOM_CHECK_TYPED(ShapeError, count == static_cast<size_t>(size()), "expected room for ", size(),
                   " elements (shape ", shape_.ToString(), ") but got ", count);
  if (!ctx().is_host()) {
    CopyTo(Context::CPU()).CopyToHostBytes(dst, count, type);
    return;
  }
  WaitToRead();
  if (nbytes() > 0) std::memcpy(dst, data(), nbytes());
}

void NDArray::CopyFromHostBytes(const void* src, size_t count, DType type) {
  CheckElementType(type);
  LOOM_CHECK_TYPED(ShapeError, count == static_cast<size_t>(size()), "expected ", size(),
                   " values for an array of shape ", shape_.ToString(), " but got ", count);
  if (!ctx().is_host()) {
    CopyFrom(FromHostBytes(src, count, type, shape_, Context::CPU()));
    return;
  }
  WaitToWrite();
  if (nbytes() > 0) std::memcpy(data(), src, nbytes());
}

NDArray NDArray::AsType(DType dtype) const {
  CheckNotNone("convert");
  LOOM_CHECK_TYPED(NotSupportedError, ctx().is_host(), "Cast has no kernel for ", ctx().ToString(),
                   " yet: copy with CopyTo(Context::CPU()) first");
  NDArray out = Empty(shape_, ctx(), dtype);
  const void* x = data();
  void* z = out.data();
  const auto n = static_cast<size_t>(size());
  const DType from = dtype_;
  Engine::Get().Push([=](RunContext) { detail::CastKernel(from, x, dtype, z, n); }, ctx(), {var()},
                     {out.var()}, 0, "Cast");
  return out;
}

NDArray NDArray::Slice(int64_t begin, int64_t end) const {
  CheckNotNone("slice");
  LOOM_CHECK_TYPED(ShapeError, shape_.ndim() >= 1,
                   "cannot slice an array of shape () along its first axis: it has none");
  const int64_t rows = shape_[0];
  LOOM_CHECK_TYPED(ShapeError, 0 <= begin && begin <= end && end <= rows, "slice [", begin, ", ",
                   end, ") is out of range for an array of shape ", shape_.ToString(),
                   ": expected 0 <= begin <= end <= ", rows);
  NDArray view = *this;
  view.shape_[0] = end - begin;
  view.offset_ += static_cast<size_t>(begin * shape_.Size(1, shape_.ndim())) * DTypeSize(dtype_);
  return view;
}

NDArray NDArray::Reshape(const Shape& shape) const {
  CheckNotNone("reshape");
  int inferred = -1;
  int64_t known = 1;
  for (int i = 0; i < shape.ndim(); ++i) {
    if (shape[i] == -1) {
      LOOM_CHECK_TYPED(ShapeError, inferred < 0, "cannot reshape an array of shape ",
                       shape_.ToString(), " to ", shape.ToString(),
                       ": at most one dimension may be -1");
      inferred = i;
    } else {
      LOOM_CHECK_TYPED(ShapeError, shape[i] >= 0, "cannot reshape an array of shape ",
                       shape_.ToString(), " to ", shape.ToString(),
                       ": expected dimensions >= 0 or one -1 but got ", shape[i]);
      known *= shape[i];
    }
  }
  Shape target = shape;
  if (inferred >= 0) {
    LOOM_CHECK_TYPED(ShapeError, known != 0 && size() % known == 0,
                     "cannot reshape an array of shape ", shape_.ToString(), " (", size(),
                     " elements) to ", shape.ToString(), ": ", size(),
                     " is not a multiple of the other dimensions' product ", known);
    target[inferred] = size() / known;
  }
  LOOM_CHECK_TYPED(ShapeError, target.Size() == size(), "cannot reshape an array of shape ",
                   shape_.ToString(), " (", size(), " elements) to ", target.ToString(), " (",
                   target.Size(), " elements)");
  NDArray view = *this;
  view.shape_ = std::move(target);
  return view;
}

NDArray NDArray::View(const Shape& shape, DType dtype, size_t byte_offset) const {
  CheckNotNone("view");
  LOOM_CHECK_TYPED(DTypeError, IsValidDType(dtype), "cannot view an array as ", DTypeName(dtype));
  for (int64_t d : shape) {
    LOOM_CHECK_TYPED(ShapeError, d >= 0, "cannot view an array as shape ", shape.ToString(),
                     ": expected dimensions >= 0");
  }
  const size_t bytes = static_cast<size_t>(shape.Size()) * DTypeSize(dtype);
  const size_t block = chunk_->storage.size();
  LOOM_CHECK_TYPED(ShapeError, byte_offset <= block && bytes <= block - byte_offset,
                   "a view of shape ", shape.ToString(), " and dtype ", ToString(dtype), " (",
                   bytes, " bytes) at byte offset ", byte_offset, " does not fit in a block of ",
                   block, " bytes");
  NDArray view = *this;
  view.shape_ = shape;
  view.dtype_ = dtype;
  view.offset_ = byte_offset;
  return view;
}

NDArray& NDArray::operator+=(const NDArray& other) {
  CheckOperands(*this, other, ArithOp::kAdd);
  PushBinary(ArithOp::kAdd, *this, other, *this);
  return *this;
}
NDArray& NDArray::operator-=(const NDArray& other) {
  CheckOperands(*this, other, ArithOp::kSub);
  PushBinary(ArithOp::kSub, *this, other, *this);
  return *this;
}
NDArray& NDArray::operator*=(const NDArray& other) {
  CheckOperands(*this, other, ArithOp::kMul);
  PushBinary(ArithOp::kMul, *this, other, *this);
  return *this;
}
NDArray& NDArray::operator/=(const NDArray& other) {
  CheckOperands(*this, other, ArithOp::kDiv);
  PushBinary(ArithOp::kDiv, *this, other, *this);
  return *this;
}

NDArray& NDArray::operator+=(double scalar) {
  CheckOperand(*this, "add");
  CheckComputable(*this, ArithOp::kAdd, true, false);
  PushScalar(ArithOp::kAdd, false, *this, scalar, *this);
  return *this;
}
NDArray& NDArray::operator-=(double scalar) {
  CheckOperand(*this, "subtract");
  CheckComputable(*this, ArithOp::kSub, true, false);
  PushScalar(ArithOp::kSub, false, *this, scalar, *this);
  return *this;
}
NDArray& NDArray::operator*=(double scalar) {
  CheckOperand(*this, "multiply");
  CheckComputable(*this, ArithOp::kMul, true, false);
  PushScalar(ArithOp::kMul, false, *this, scalar, *this);
  return *this;
}
NDArray& NDArray::operator/=(double scalar) {
  CheckOperand(*this, "divide");
  CheckComputable(*this, ArithOp::kDiv, true, false);
  PushScalar(ArithOp::kDiv, false, *this, scalar, *this);
  return *this;
}

NDArray operator+(const NDArray& a, const NDArray& b) { return Binary(ArithOp::kAdd, a, b); }
NDArray operator-(const NDArray& a, const NDArray& b) { return Binary(ArithOp::kSub, a, b); }
NDArray operator*(const NDArray& a, const NDArray& b) { return Binary(ArithOp::kMul, a, b); }
NDArray operator/(const NDArray& a, const NDArray& b) { return Binary(ArithOp::kDiv, a, b); }
NDArray operator+(const NDArray& a, double b) { return Scalar(ArithOp::kAdd, false, a, b); }
NDArray operator-(const NDArray& a, double b) { return Scalar(ArithOp::kSub, false, a, b); }
NDArray operator*(const NDArray& a, double b) { return Scalar(ArithOp::kMul, false, a, b); }
NDArray operator/(const NDArray& a, double b) { return Scalar(ArithOp::kDiv, false, a, b); }
NDArray operator+(double a, const NDArray& b) { return Scalar(ArithOp::kAdd, true, b, a); }
NDArray operator-(double a, const NDArray& b) { return Scalar(ArithOp::kSub, true, b, a); }
NDArray operator*(double a, const NDArray& b) { return Scalar(ArithOp::kMul, true, b, a); }
NDArray operator/(double a, const NDArray& b) { return Scalar(ArithOp::kDiv, true, b, a); }

}  // namespace loom
