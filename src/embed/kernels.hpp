#pragma once
// Numeric kernels shared by the embedders and the semantic index. Each has a portable version and,
// on x86-64, an AVX2+FMA version compiled with a function-level target attribute and chosen once at
// run time, so the binary still runs on baseline x86-64 (no -march flags needed).
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace sy::embed::kernels {

/// std::allocator with 64-byte (cache line) alignment, so AVX loads never split cache lines.
template <class T>
struct AlignedAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) {}  // NOLINT(google-explicit-constructor)
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, kAlign); }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const { return true; }
};
template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

/// True when the AVX2+FMA code paths are in use (CPU support detected, not disabled by
/// SWITCHYARD_EMBED_NO_AVX2=1 in the environment).
bool avx2_enabled();

/// Sum of a[i] * b[i].
float dot(const float* a, const float* b, std::size_t n);

/// y[i] += a * x[i].
void axpy(float* y, const float* x, float a, std::size_t n);

/// out[c] += scale * dot(rows + c * dim, q) for c in [0, count): rows is a count x dim row-major matrix.
void matvec_accumulate(const float* rows, std::size_t count, std::size_t dim, const float* q, float scale,
                       float* out);

/// Right-hand matrix of a GEMM, repacked once into 16-column panels (zero-padded), k-major inside each
/// panel, so the micro-kernel streams it contiguously.
class PackedMatrix {
 public:
  static constexpr std::size_t kPanel = 16;
  PackedMatrix() = default;
  /// Packs the row-major k x n matrix `b` (row stride ldb).
  PackedMatrix(const float* b, std::size_t k, std::size_t n, std::size_t ldb);
  void pack(const float* b, std::size_t k, std::size_t n, std::size_t ldb);
  /// Packs the transpose of the row-major n x k matrix `a` (row stride lda): B[kk][j] = a[j * lda + kk].
  void pack_transposed(const float* a, std::size_t k, std::size_t n, std::size_t lda);
  /// Converts the packed values to IEEE half precision (round to nearest) and drops the fp32 copy:
  /// half the bytes to stream per product, ~3 significant digits per weight. Needs the F16C path;
  /// returns false (and keeps fp32) when it is not available.
  bool to_half();
  bool is_half() const { return !half_.empty(); }
  std::size_t k() const { return k_; }
  std::size_t n() const { return n_; }
  const float* panel(std::size_t p) const { return data_.data() + p * k_ * kPanel; }
  const std::uint16_t* half_panel(std::size_t p) const { return half_.data() + p * k_ * kPanel; }
  std::size_t panels() const { return (n_ + kPanel - 1) / kPanel; }
  std::size_t memory_bytes() const { return data_.capacity() * sizeof(float) + half_.capacity() * 2; }

 private:
  std::size_t k_ = 0, n_ = 0;
  AlignedVector<float> data_;
  AlignedVector<std::uint16_t> half_;
};

/// True when half-precision weights are supported (AVX2 + FMA + F16C in use).
bool f16c_enabled();

/// C[m x n] = A[m x k] * B (+ bias[n] when bias is non-null). A row stride lda, C row stride ldc.
void gemm(const float* a, std::size_t m, std::size_t lda, const PackedMatrix& b, const float* bias, float* c,
          std::size_t ldc);

/// In place: x[i] = exp(x[i] - max) / sum over the row, for one row of n values.
void softmax(float* x, std::size_t n);

}  // namespace sy::embed::kernels
