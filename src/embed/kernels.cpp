#include "kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SY_EMBED_X86 1
#endif

namespace sy::embed::kernels {
namespace {

// ---------------------------------------------------------------------------------------------
// Portable versions. Written so that -O2 can vectorise the fixed-width inner loops with SSE2.

float dot_generic(const float* a, const float* b, std::size_t n) {
  float acc[8] = {};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  float s = 0;
  for (; i < n; ++i) s += a[i] * b[i];
  for (float v : acc) s += v;
  return s;
}

void axpy_generic(float* y, const float* x, float a, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// C block [rows x 16] (+)= A[rows x klen] * panel[klen x 16]
void kernel_generic(const float* a, std::size_t lda, const float* bp, std::size_t klen, float* tile,
                    std::size_t rows) {
  for (std::size_t r = 0; r < rows; ++r) {
    float acc[16];
    std::memcpy(acc, tile + r * 16, sizeof acc);
    const float* ar = a + r * lda;
    for (std::size_t k = 0; k < klen; ++k) {
      const float av = ar[k];
      const float* bk = bp + k * 16;
      for (int j = 0; j < 16; ++j) acc[j] += av * bk[j];
    }
    std::memcpy(tile + r * 16, acc, sizeof acc);
  }
}

#ifdef SY_EMBED_X86
// ---------------------------------------------------------------------------------------------
// AVX2 + FMA versions.

__attribute__((target("avx2,fma"))) float hsum256(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  __m128 shuf = _mm_movehdup_ps(lo);
  __m128 sums = _mm_add_ps(lo, shuf);
  shuf = _mm_movehl_ps(shuf, sums);
  sums = _mm_add_ss(sums, shuf);
  return _mm_cvtss_f32(sums);
}

__attribute__((target("avx2,fma"))) float dot_avx2(const float* a, const float* b, std::size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(),
         s3 = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

__attribute__((target("avx2,fma"))) void axpy_avx2(float* y, const float* x, float a, std::size_t n) {
  const __m256 av = _mm256_set1_ps(a);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

// The micro-kernel: R rows of A times one 16-wide panel, 2R accumulators kept in registers
// (R = 6 uses 12 of the 16 ymm registers). Accumulates into the R x 16 tile.
template <int R>
__attribute__((target("avx2,fma"))) void kernel_avx2(const float* a, std::size_t lda, const float* bp,
                                                     std::size_t klen, float* tile) {
  // The r loops must be fully unrolled so the accumulators live in registers; GCC's -O2 does not do
  // that on its own for R = 6.
  __m256 acc0[R], acc1[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    acc0[r] = _mm256_loadu_ps(tile + r * 16);
    acc1[r] = _mm256_loadu_ps(tile + r * 16 + 8);
  }
  for (std::size_t k = 0; k < klen; ++k) {
    const __m256 b0 = _mm256_load_ps(bp + k * 16);
    const __m256 b1 = _mm256_load_ps(bp + k * 16 + 8);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r * lda + k);
      acc0[r] = _mm256_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(av, b1, acc1[r]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    _mm256_storeu_ps(tile + r * 16, acc0[r]);
    _mm256_storeu_ps(tile + r * 16 + 8, acc1[r]);
  }
}

// Same with the panel in half precision, widened with F16C on load.
template <int R>
__attribute__((target("avx2,fma,f16c"))) void kernel_f16(const float* a, std::size_t lda, const std::uint16_t* bp,
                                                         std::size_t klen, float* tile) {
  __m256 acc0[R], acc1[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    acc0[r] = _mm256_loadu_ps(tile + r * 16);
    acc1[r] = _mm256_loadu_ps(tile + r * 16 + 8);
  }
  for (std::size_t k = 0; k < klen; ++k) {
    const __m256 b0 = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(bp + k * 16)));
    const __m256 b1 = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(bp + k * 16 + 8)));
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r * lda + k);
      acc0[r] = _mm256_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(av, b1, acc1[r]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    _mm256_storeu_ps(tile + r * 16, acc0[r]);
    _mm256_storeu_ps(tile + r * 16 + 8, acc1[r]);
  }
}

__attribute__((target("avx2,fma,f16c"))) void kernel_f16_rows(const float* a, std::size_t lda, const std::uint16_t* bp,
                                                             std::size_t klen, float* tile, std::size_t rows) {
  switch (rows) {
    case 6: kernel_f16<6>(a, lda, bp, klen, tile); break;
    case 5: kernel_f16<5>(a, lda, bp, klen, tile); break;
    case 4: kernel_f16<4>(a, lda, bp, klen, tile); break;
    case 3: kernel_f16<3>(a, lda, bp, klen, tile); break;
    case 2: kernel_f16<2>(a, lda, bp, klen, tile); break;
    default: kernel_f16<1>(a, lda, bp, klen, tile); break;
  }
}

__attribute__((target("avx2,fma,f16c"))) void to_half_f16c(const float* in, std::uint16_t* out, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) out[i] = static_cast<std::uint16_t>(_cvtss_sh(in[i], _MM_FROUND_TO_NEAREST_INT));
}

__attribute__((target("avx2,fma"))) void kernel_avx2_rows(const float* a, std::size_t lda, const float* bp,
                                                          std::size_t klen, float* tile, std::size_t rows) {
  switch (rows) {
    case 6: kernel_avx2<6>(a, lda, bp, klen, tile); break;
    case 5: kernel_avx2<5>(a, lda, bp, klen, tile); break;
    case 4: kernel_avx2<4>(a, lda, bp, klen, tile); break;
    case 3: kernel_avx2<3>(a, lda, bp, klen, tile); break;
    case 2: kernel_avx2<2>(a, lda, bp, klen, tile); break;
    default: kernel_avx2<1>(a, lda, bp, klen, tile); break;
  }
}
#endif

using KernelFn = void (*)(const float*, std::size_t, const float*, std::size_t, float*, std::size_t);
using HalfKernelFn = void (*)(const float*, std::size_t, const std::uint16_t*, std::size_t, float*, std::size_t);
using DotFn = float (*)(const float*, const float*, std::size_t);
using AxpyFn = void (*)(float*, const float*, float, std::size_t);

struct Dispatch {
  bool avx2 = false;
  bool f16c = false;
  KernelFn kernel = kernel_generic;
  HalfKernelFn half_kernel = nullptr;
  DotFn dot = dot_generic;
  AxpyFn axpy = axpy_generic;
  Dispatch() {
#ifdef SY_EMBED_X86
    const char* off = std::getenv("SWITCHYARD_EMBED_NO_AVX2");
    const bool disabled = off != nullptr && off[0] == '1';
    if (!disabled && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
      avx2 = true;
      kernel = kernel_avx2_rows;
      dot = dot_avx2;
      axpy = axpy_avx2;
      if (__builtin_cpu_supports("f16c")) {
        f16c = true;
        half_kernel = kernel_f16_rows;
      }
    }
#endif
  }
};

const Dispatch& dispatch() {
  static const Dispatch d;
  return d;
}

}  // namespace

bool avx2_enabled() { return dispatch().avx2; }
bool f16c_enabled() { return dispatch().f16c; }

bool PackedMatrix::to_half() {
#ifdef SY_EMBED_X86
  if (!dispatch().f16c) return false;
  half_.assign(data_.size(), 0);
  to_half_f16c(data_.data(), half_.data(), data_.size());
  data_ = AlignedVector<float>();
  return true;
#else
  return false;
#endif
}

float dot(const float* a, const float* b, std::size_t n) { return dispatch().dot(a, b, n); }

void axpy(float* y, const float* x, float a, std::size_t n) { dispatch().axpy(y, x, a, n); }

void matvec_accumulate(const float* rows, std::size_t count, std::size_t dim, const float* q, float scale,
                       float* out) {
  const DotFn d = dispatch().dot;
  for (std::size_t c = 0; c < count; ++c) out[c] += scale * d(rows + c * dim, q, dim);
}

PackedMatrix::PackedMatrix(const float* b, std::size_t k, std::size_t n, std::size_t ldb) { pack(b, k, n, ldb); }

void PackedMatrix::pack(const float* b, std::size_t k, std::size_t n, std::size_t ldb) {
  k_ = k;
  n_ = n;
  half_.clear();
  data_.assign(panels() * k * kPanel, 0.0f);
  for (std::size_t p = 0; p < panels(); ++p) {
    float* dst = data_.data() + p * k * kPanel;
    const std::size_t n0 = p * kPanel;
    const std::size_t width = std::min(kPanel, n - n0);
    for (std::size_t kk = 0; kk < k; ++kk)
      for (std::size_t j = 0; j < width; ++j) dst[kk * kPanel + j] = b[kk * ldb + n0 + j];
  }
}

void PackedMatrix::pack_transposed(const float* a, std::size_t k, std::size_t n, std::size_t lda) {
  k_ = k;
  n_ = n;
  half_.clear();
  data_.assign(panels() * k * kPanel, 0.0f);
  for (std::size_t j = 0; j < n; ++j) {
    float* dst = data_.data() + (j / kPanel) * k * kPanel + (j % kPanel);
    const float* src = a + j * lda;
    for (std::size_t kk = 0; kk < k; ++kk) dst[kk * kPanel] = src[kk];
  }
}

namespace {
template <class T, class Kernel, class PanelFn>
void gemm_blocked(const float* a, std::size_t m, std::size_t lda, const PackedMatrix& b, const float* bias, float* c,
                  std::size_t ldc, Kernel kernel, PanelFn panel) {
  const std::size_t k = b.k(), n = b.n();
  // Blocking: a 256-deep slice of one panel (16 KB in fp32) stays in L1 while every row block of A
  // streams past it; the A slice (m x 256) stays in L2.
  constexpr std::size_t kKc = 256;
  constexpr std::size_t kMr = 6;
  alignas(32) float tile[kMr * 16];
  for (std::size_t k0 = 0; k0 < k || k0 == 0; k0 += kKc) {
    const std::size_t klen = std::min(kKc, k - k0);
    for (std::size_t p = 0; p < b.panels(); ++p) {
      const T* bp = panel(p) + k0 * PackedMatrix::kPanel;
      const std::size_t n0 = p * PackedMatrix::kPanel;
      const std::size_t width = std::min(PackedMatrix::kPanel, n - n0);
      for (std::size_t i = 0; i < m; i += kMr) {
        const std::size_t rows = std::min(kMr, m - i);
        for (std::size_t r = 0; r < rows; ++r) {
          float* trow = tile + r * 16;
          if (k0 == 0) {
            for (std::size_t j = 0; j < 16; ++j) trow[j] = (bias != nullptr && j < width) ? bias[n0 + j] : 0.0f;
          } else {
            std::memcpy(trow, c + (i + r) * ldc + n0, width * sizeof(float));
          }
        }
        if (klen > 0) kernel(a + i * lda + k0, lda, bp, klen, tile, rows);
        for (std::size_t r = 0; r < rows; ++r) std::memcpy(c + (i + r) * ldc + n0, tile + r * 16, width * sizeof(float));
      }
    }
    if (k == 0) break;
  }
}
}  // namespace

void gemm(const float* a, std::size_t m, std::size_t lda, const PackedMatrix& b, const float* bias, float* c,
          std::size_t ldc) {
  if (b.is_half()) {
    gemm_blocked<std::uint16_t>(a, m, lda, b, bias, c, ldc, dispatch().half_kernel,
                                [&](std::size_t p) { return b.half_panel(p); });
  } else {
    gemm_blocked<float>(a, m, lda, b, bias, c, ldc, dispatch().kernel, [&](std::size_t p) { return b.panel(p); });
  }
}

void softmax(float* x, std::size_t n) {
  if (n == 0) return;
  float mx = x[0];
  for (std::size_t i = 1; i < n; ++i) mx = std::max(mx, x[i]);
  float sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (std::size_t i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace sy::embed::kernels
