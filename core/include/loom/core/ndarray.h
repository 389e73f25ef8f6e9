// NDArray: an n-dimensional array on a device whose every operation runs asynchronously on the
// dependency engine (loom::Engine::Get()). Operations return at once; reading on the host waits.
//
//   using loom::NDArray;
//   NDArray a = NDArray::FromHost<float>({1, 2, 3, 4, 5, 6}, {2, 3});      // cpu(0), float32
//   NDArray b = NDArray::Ones({2, 3});
//   NDArray c = (a + b) * 2.0f;            // two engine operations, pushed, not yet run
//   c -= a;                                 // in place
//   std::vector<float> v = c.ToVector<float>();        // waits: {3, 4, 5, 6, 7, 8}
//   NDArray d = c.CopyTo(loom::Context::CPU(1));       // a copy on cpu(1)'s pool, also queued
//   NDArray row = c.Slice(1, 2);            // a view: shares c's memory and dependencies
//   NDArray flat = c.Reshape({-1});         // a view of shape (6)
//
// Model: an NDArray is a handle (shape, dtype, byte offset) onto a shared chunk (a Storage block
// and its engine variable). Copying an NDArray copies the handle, not the data; Slice and Reshape
// make views of the same chunk, so writes through one are seen through the others, and engine
// ordering covers all of them. When the last handle on a chunk goes, the chunk's variable is
// deleted through the engine and the block goes back to its pool after every operation pushed on
// it is done, so dropping arrays with work pending is safe.
//
// Errors: mistakes found when pushing (shapes, dtypes, contexts of operands) throw at once
// (ShapeError, DTypeError, loom::Error); errors inside an operation surface at the next wait on
// an array it writes (WaitToRead, ToVector, ...), naming the operation.
//
// Thread safety: the engine makes concurrent operations on shared arrays safe and ordered by push
// order. One NDArray object (the handle) must not be assigned in one thread while used in another.
// Arrays must not outlive the engine (no NDArrays with static storage duration).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

#include "loom/core/dtype.h"
#include "loom/core/half.h"
#include "loom/core/shape.h"
#include "loom/core/storage.h"
#include "loom/scheduler/context.h"
#include "loom/scheduler/engine.h"

namespace loom {

/// The DType of C++ element type T; kUnknown for types that are no array element.
template <typename T>
inline constexpr DType kDTypeOf = DType::kUnknown;
template <>
inline constexpr DType kDTypeOf<float> = DType::kFloat32;
template <>
inline constexpr DType kDTypeOf<double> = DType::kFloat64;
template <>
inline constexpr DType kDTypeOf<Half> = DType::kFloat16;
template <>
inline constexpr DType kDTypeOf<uint8_t> = DType::kUInt8;
template <>
inline constexpr DType kDTypeOf<int32_t> = DType::kInt32;
template <>
inline constexpr DType kDTypeOf<int8_t> = DType::kInt8;
template <>
inline constexpr DType kDTypeOf<int64_t> = DType::kInt64;
template <>
inline constexpr DType kDTypeOf<bool> = DType::kBool;

namespace detail {

/// One block of array memory and its engine variable, shared by every view of the block.
struct NDArrayChunk {
  /// Takes the block and creates its variable.
  explicit NDArrayChunk(Storage block);
  /// Deletes the variable through the engine; the block returns to its pool once every
  /// operation pushed on the variable is done.
  ~NDArrayChunk();
  NDArrayChunk(const NDArrayChunk&) = delete;
  NDArrayChunk& operator=(const NDArrayChunk&) = delete;

  Storage storage;
  VarHandle var;
};

}  // namespace detail

class NDArray {
 public:
  /// A "none" array: no shape, no memory (is_none()).
  NDArray() = default;

  /// @name Creation. Shapes need dimensions >= 0; a 0-dimensional shape () holds one element.
  /// The memory comes from ctx's pool; filling is an engine operation.
  /// @{
  /// Uninitialised contents.
  static NDArray Empty(const Shape& shape, Context ctx = Context::CPU(),
                       DType dtype = DType::kFloat32);
  static NDArray Zeros(const Shape& shape, Context ctx = Context::CPU(),
                       DType dtype = DType::kFloat32);
  static NDArray Ones(const Shape& shape, Context ctx = Context::CPU(),
                      DType dtype = DType::kFloat32);
  /// Every element is value cast to dtype (truncated toward zero and wrapped for integers).
  static NDArray Full(const Shape& shape, double value, Context ctx = Context::CPU(),
                      DType dtype = DType::kFloat32);
  /// An array of dtype kDTypeOf<T> holding a copy of values (row-major); the copy out of values
  /// is done when this returns. @throws ShapeError when values.size() != shape.Size().
  template <typename T>
  static NDArray FromHost(std::span<const T> values, const Shape& shape,
                          Context ctx = Context::CPU()) {
    static_assert(kDTypeOf<T> != DType::kUnknown, "T is no array element type");
    return FromHostBytes(values.data(), values.size(), kDTypeOf<T>, shape, ctx);
  }
  template <typename T>
  static NDArray FromHost(std::initializer_list<T> values, const Shape& shape,
                          Context ctx = Context::CPU()) {
    return FromHost(std::span<const T>(values.begin(), values.size()), shape, ctx);
  }
  template <typename T>
  static NDArray FromHost(const std::vector<T>& values, const Shape& shape,
                          Context ctx = Context::CPU()) {
    static_assert(!std::is_same_v<T, bool>, "std::vector<bool> is packed: pass a span of bool");
    return FromHost(std::span<const T>(values), shape, ctx);
  }
  /// @}

  /// @name Properties. The accessors of a none array return empty values.
  /// @{
  bool is_none() const { return chunk_ == nullptr; }
  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  Context ctx() const { return chunk_ ? chunk_->storage.ctx() : Context::CPU(); }
  /// Number of elements.
  int64_t size() const { return chunk_ ? shape_.Size() : 0; }
  size_t nbytes() const { return static_cast<size_t>(size()) * DTypeSize(dtype_); }
  /// Offset of this view's first element in its storage block, in bytes.
  size_t byte_offset() const { return offset_; }
  /// The engine variable of the storage block (shared by all views of it); nullptr when none.
  VarHandle var() const { return chunk_ ? chunk_->var : nullptr; }
  const Storage& storage() const;
  /// The first element. Safe to dereference only inside an engine operation that lists var(),
  /// or on the host after WaitToRead (reading) or WaitToWrite (writing).
  void* data() const;
  /// data() as T*. @throws DTypeError when T is not the array's element type.
  template <typename T>
  T* data() const {
    CheckElementType(kDTypeOf<T>);
    return static_cast<T*>(data());
  }
  /// Completed writes to the storage block so far (shared by all its views).
  uint64_t version() const;
  /// @}

  /// @name Synchronisation. Both rethrow, once, the error of a failed operation that wrote var().
  /// @{
  /// Waits for every write pushed so far (reading is safe after it).
  void WaitToRead() const;
  /// Waits for every read and write pushed so far (writing is safe after it).
  void WaitToWrite() const;
  /// @}

  /// @name Copies. Cross-device copies are engine operations like any other.
  /// @{
  /// A new array on ctx with the same contents (pushed, not waited for). cpu(i) -> cpu(j) is a
  /// real copy into cpu(j)'s pool.
  NDArray CopyTo(Context ctx) const;
  /// Pushes a copy of src's contents into this array (any two contexts).
  /// @throws ShapeError, DTypeError when shapes or dtypes differ.
  void CopyFrom(const NDArray& src);
  /// Copies the contents into dst[0..count) once pending writes are done.
  /// @throws DTypeError when T is not the element type, ShapeError when count != size().
  template <typename T>
  void CopyToHost(T* dst, size_t count) const {
    CopyToHostBytes(dst, count, kDTypeOf<T>);
  }
  /// Overwrites the contents with src[0..count) once pending reads and writes are done; returns
  /// after src has been copied. @throws DTypeError, ShapeError as CopyToHost.
  template <typename T>
  void CopyFromHost(const T* src, size_t count) {
    CopyFromHostBytes(src, count, kDTypeOf<T>);
  }
  /// The contents, row-major, once pending writes are done. T must be the element type.
  template <typename T>
  std::vector<T> ToVector() const {
    if constexpr (std::is_same_v<T, bool>) {
      std::unique_ptr<bool[]> flat(new bool[static_cast<size_t>(size())]);
      CopyToHost(flat.get(), static_cast<size_t>(size()));
      return std::vector<bool>(flat.get(), flat.get() + size());
    } else {
      std::vector<T> out(static_cast<size_t>(size()));
      CopyToHost(out.data(), out.size());
      return out;
    }
  }
  /// A new array with the elements converted to dtype (floats to integers truncate and wrap).
  NDArray AsType(DType dtype) const;
  /// @}

  /// @name Views: share storage and engine variable with this array.
  /// @{
  /// Rows [begin, end) along the first axis. @throws ShapeError when out of range.
  NDArray Slice(int64_t begin, int64_t end) const;
  /// The same elements with another shape of equal size; one dimension may be -1 (inferred).
  /// @throws ShapeError naming both shapes when the sizes differ.
  NDArray Reshape(const Shape& shape) const;
  /// A view of the same storage block at byte_offset (from the block's start) with any shape and
  /// dtype that fit in the block; shares the engine variable (the executor's memory plan makes
  /// every entry of one pooled chunk such a view). @throws ShapeError when it does not fit.
  NDArray View(const Shape& shape, DType dtype, size_t byte_offset) const;
  /// @}

  /// @name In-place arithmetic (pushed). Operands need the same shape, dtype and context;
  /// scalars are cast to the array's dtype. Integer arithmetic wraps; integer division by zero
  /// fails the operation. bool arrays and GPU arrays have no arithmetic yet.
  /// @{
  NDArray& operator+=(const NDArray& other);
  NDArray& operator-=(const NDArray& other);
  NDArray& operator*=(const NDArray& other);
  NDArray& operator/=(const NDArray& other);
  NDArray& operator+=(double scalar);
  NDArray& operator-=(double scalar);
  NDArray& operator*=(double scalar);
  NDArray& operator/=(double scalar);
  /// @}

 private:
  static NDArray FromHostBytes(const void* data, size_t count, DType dtype, const Shape& shape,
                               Context ctx);
  void CopyToHostBytes(void* dst, size_t count, DType type) const;
  void CopyFromHostBytes(const void* src, size_t count, DType type);
  void CheckElementType(DType type) const;
  void CheckNotNone(const char* what) const;

  std::shared_ptr<detail::NDArrayChunk> chunk_;
  Shape shape_;
  DType dtype_ = DType::kUnknown;
  size_t offset_ = 0;
};

/// @name Elementwise arithmetic, each a new array computed by one engine operation ("_plus",
/// "_minus", "_mul", "_div"; "_plus_scalar", "_rminus_scalar", "_rdiv_scalar", ... with scalars).
/// @throws ShapeError ("cannot add arrays of shape (2,3) and (3,2)"), DTypeError, loom::Error
/// (different contexts), NotSupportedError (bool or GPU arrays).
/// @{
NDArray operator+(const NDArray& a, const NDArray& b);
NDArray operator-(const NDArray& a, const NDArray& b);
NDArray operator*(const NDArray& a, const NDArray& b);
NDArray operator/(const NDArray& a, const NDArray& b);
NDArray operator+(const NDArray& a, double b);
NDArray operator-(const NDArray& a, double b);
NDArray operator*(const NDArray& a, double b);
NDArray operator/(const NDArray& a, double b);
NDArray operator+(double a, const NDArray& b);
NDArray operator-(double a, const NDArray& b);
NDArray operator*(double a, const NDArray& b);
NDArray operator/(double a, const NDArray& b);
/// @}

}  // namespace loom
