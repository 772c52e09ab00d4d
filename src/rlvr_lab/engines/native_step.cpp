// One decode step of a Llama-like model in one C++ call, in bfloat16 or float32: what
// rlvr_lab/engines/native_step.py builds and calls (its docstring says why). The matrix products stay torch's
// (oneDNN's on the weights the lean decoder prepacked: always in bfloat16, in float32 where oneDNN is built in; else
// at::linear, F.linear's own kernel); everything between them (norms, rope, the cache write, attention, SiLU,
// residuals) runs here in loops the compiler vectorises, with each intermediate rounded to the step's dtype where the
// eager path rounds it.
#include <torch/extension.h>

#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

using bf16 = c10::BFloat16;

inline float f32(float x) { return x; }

inline float f32(bf16 x) {
  const uint32_t bits = uint32_t(x.x) << 16;  // bfloat16 is the top half of a float32
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// A float32 result stored in the step's dtype T: as it is for float32; for bfloat16 rounded to nearest even, as
// torch converts float32 to bfloat16 (finite values; NaN is not produced here).
template <typename T>
inline T rnd(float f);

template <>
inline float rnd<float>(float f) {
  return f;
}

template <>
inline bf16 rnd<bf16>(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  bf16 out;
  out.x = uint16_t(bits >> 16);
  return out;
}

// exp in float32 (relative error about 2e-7) in plain arithmetic, so the loops that call it vectorise: Cody-Waite
// reduction x = n ln2 + r, a degree-6 Taylor polynomial for e^r on |r| <= ln2 / 2, then the exponent bits of 2^n.
inline float fexp(float x) {
  x = std::min(88.f, std::max(-87.f, x));
  const float n = std::nearbyint(x * 1.44269504088896341f);
  const float r = (x - n * 0.693145751953125f) - n * 1.428606765330187045e-06f;
  float p = 1.f / 720;
  p = p * r + 1.f / 120;
  p = p * r + 1.f / 24;
  p = p * r + 1.f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  const int32_t bits = (int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// The product of a projection: with packed, oneDNN's on a weight prepacked by torch.ops.mkldnn._reorder_linear_weight
// (the lean decoder's _PackedLinear calls the same op from Python); else at::linear, F.linear's own kernel. An empty
// bias means none.
at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, bool packed) {
  if (!packed) return bias.numel() ? at::linear(x, weight, bias) : at::linear(x, weight);
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("mkldnn::_linear_pointwise", "")
                       .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&,
                                         c10::string_view, c10::List<std::optional<at::Scalar>>,
                                         std::optional<c10::string_view>)>();
  const std::optional<at::Tensor> b = bias.numel() ? std::optional<at::Tensor>(bias) : std::nullopt;
  return op.call(x, weight, b, "none", c10::List<std::optional<at::Scalar>>(), std::string_view(""));
}

// h += add (unless add is null), then out = weight * bf16(h / rms(h)): the residual and the next RMSNorm in one
// pass over each row; statistics in float32 as transformers' LlamaRMSNorm takes them.
template <typename T>
void add_rms(T* h, const T* add, const T* weight, T* out, int64_t rows, int64_t width, float eps) {
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      T* x = h + r * width;
      if (add != nullptr) {
        const T* a = add + r * width;
#pragma omp simd
        for (int64_t c = 0; c < width; ++c) x[c] = rnd<T>(f32(x[c]) + f32(a[c]));
      }
      float squares = 0.f;
#pragma omp simd reduction(+ : squares)
      for (int64_t c = 0; c < width; ++c) squares += f32(x[c]) * f32(x[c]);
      const float inv = 1.f / std::sqrt(squares / float(width) + eps);
      T* o = out + r * width;
#pragma omp simd
      for (int64_t c = 0; c < width; ++c) o[c] = rnd<T>(f32(weight[c]) * f32(rnd<T>(f32(x[c]) * inv)));
    }
  });
}

// x*cos + rotate_half(x)*signed_sin, each product and the sum rounded as the eager path rounds them.
template <typename T, int64_t D>
inline void rope(const T* x, const T* cos, const T* sin, T* out) {
  constexpr int64_t half = D / 2;
#pragma omp simd
  for (int64_t d = 0; d < half; ++d)
    out[d] = rnd<T>(f32(rnd<T>(f32(x[d]) * f32(cos[d]))) + f32(rnd<T>(f32(x[d + half]) * f32(sin[d]))));
#pragma omp simd
  for (int64_t d = half; d < D; ++d)
    out[d] = rnd<T>(f32(rnd<T>(f32(x[d]) * f32(cos[d]))) + f32(rnd<T>(f32(x[d - half]) * f32(sin[d]))));
}

#ifdef __AVX512F__
// The lanes of a 16-float load that hold values when left of them remain: all 16, or the first left.
inline __mmask16 lanes(int64_t left) {
  return left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
}
#endif

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define RLVR_LANES16 1
// Up to 16 values from x as 16 float32 lanes (the lanes past live zero): float32 as they are; bfloat16 widened
// exactly, each one's 16 bits moved to the top of a float32's 32.
inline __m512 load16(const float* x, __mmask16 live) { return _mm512_maskz_loadu_ps(live, x); }

inline __m512 load16(const bf16* x, __mmask16 live) {
  const __m256i half = _mm256_maskz_loadu_epi16(live, reinterpret_cast<const void*>(x));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(half), 16));
}
#endif

// q . k over D values, k float32 or bfloat16 (widened exactly, so either gives the float32 sum of the same
// products). With AVX-512, D / 16 fused multiply-adds (the last masked when 16 does not divide D) and one
// horizontal sum; the portable loop below compiles to a sum through memory, lane by lane, which was most of the
// attention's time at D = 40 (the organisms').
template <int64_t D, typename T>
inline float dot(const float* q, const T* k) {
#ifdef RLVR_LANES16
  __m512 sum = _mm512_setzero_ps();
  for (int64_t d = 0; d < D; d += 16) {
    const __mmask16 live = lanes(D - d);
    sum = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(live, q + d), load16(k + d, live), sum);
  }
  return _mm512_reduce_add_ps(sum);
#else
  float sum = 0.f;
#pragma omp simd reduction(+ : sum)
  for (int64_t d = 0; d < D; ++d) sum += q[d] * f32(k[d]);
  return sum;
#endif
}

// out = sum over t < seen of w[t] * v[t * D .. t * D + D), v float32 or bfloat16 (widened exactly). With AVX-512
// the sums stay in registers, two sets for alternate keys so consecutive fused multiply-adds do not wait on each
// other; the portable loop keeps them in memory, one store and reload per key.
template <int64_t D, typename T>
inline void weighted_sum(const float* w, const T* v, int64_t seen, float* out) {
#ifdef RLVR_LANES16
  constexpr int64_t n = (D + 15) / 16;
  __mmask16 live[n];
  __m512 even[n], odd[n];
  for (int64_t i = 0; i < n; ++i) {
    live[i] = lanes(D - 16 * i);
    even[i] = odd[i] = _mm512_setzero_ps();
  }
  int64_t t = 0;
  for (; t + 1 < seen; t += 2) {
    const __m512 a = _mm512_set1_ps(w[t]), b = _mm512_set1_ps(w[t + 1]);
    for (int64_t i = 0; i < n; ++i) {
      even[i] = _mm512_fmadd_ps(a, load16(v + t * D + 16 * i, live[i]), even[i]);
      odd[i] = _mm512_fmadd_ps(b, load16(v + (t + 1) * D + 16 * i, live[i]), odd[i]);
    }
  }
  if (t < seen) {
    const __m512 a = _mm512_set1_ps(w[t]);
    for (int64_t i = 0; i < n; ++i) even[i] = _mm512_fmadd_ps(a, load16(v + t * D + 16 * i, live[i]), even[i]);
  }
  for (int64_t i = 0; i < n; ++i) _mm512_mask_storeu_ps(out + 16 * i, live[i], _mm512_add_ps(even[i], odd[i]));
#else
  std::fill(out, out + D, 0.f);
  for (int64_t t = 0; t < seen; ++t) {
#pragma omp simd
    for (int64_t d = 0; d < D; ++d) out[d] += w[t] * f32(v[t * D + d]);
  }
#endif
}

struct Shape {
  int64_t rows, heads, kv_heads, max_len, span;
  float scale;
};

// Rope on the queries and the new key, the key and value written at each row's position, and attention of each
// row over its keys 0 .. position (float32 scores, softmax and sum). qkv: (rows, (H + 2 Hkv) D); cache: (rows, 2,
// Hkv, max_len, D); out: (rows, H D). One task per (row, key head): the H / Hkv query heads that share a key head
// read its keys and values once.
template <typename T, int64_t D>
void attend(const Shape& s, const int64_t* positions, const T* cos, const T* sin, const T* qkv, T* cache, T* out) {
  const int64_t group = s.heads / s.kv_heads, width = (s.heads + 2 * s.kv_heads) * D;
  at::parallel_for(0, s.rows * s.kv_heads, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> q(group * D), scores(group * s.max_len), acc(group * D);
    T rotated[D];
    for (int64_t i = begin; i < end; ++i) {
      const int64_t r = i / s.kv_heads, kh = i % s.kv_heads, p = positions[r];
      const T *c = cos + p * D, *sn = sin + p * D, *x = qkv + r * width;
      for (int64_t g = 0; g < group; ++g) {
        rope<T, D>(x + (kh * group + g) * D, c, sn, rotated);
#pragma omp simd
        for (int64_t d = 0; d < D; ++d) q[g * D + d] = f32(rotated[d]) * s.scale;
      }
      T* keys = cache + ((r * 2 + 0) * s.kv_heads + kh) * s.max_len * D;
      T* values = cache + ((r * 2 + 1) * s.kv_heads + kh) * s.max_len * D;
      rope<T, D>(x + (s.heads + kh) * D, c, sn, keys + p * D);
      std::memcpy(values + p * D, x + (s.heads + s.kv_heads + kh) * D, D * sizeof(T));
      const int64_t seen = std::min<int64_t>(p + 1, s.span);  // the row's keys up to its own position
      for (int64_t t = 0; t < seen; ++t)
        for (int64_t g = 0; g < group; ++g) scores[g * s.max_len + t] = dot<D>(q.data() + g * D, keys + t * D);
      for (int64_t g = 0; g < group; ++g) {
        float* w = scores.data() + g * s.max_len;
        float top = w[0], total = 0.f;
        for (int64_t t = 1; t < seen; ++t) top = std::max(top, w[t]);
#pragma omp simd reduction(+ : total)
        for (int64_t t = 0; t < seen; ++t) {
          w[t] = fexp(w[t] - top);
          total += w[t];
        }
        const float inv = 1.f / total;
#pragma omp simd
        for (int64_t t = 0; t < seen; ++t) w[t] *= inv;
      }
      for (int64_t g = 0; g < group; ++g)
        weighted_sum<D>(scores.data() + g * s.max_len, values, seen, acc.data() + g * D);
      T* o = out + r * s.heads * D + kh * group * D;
#pragma omp simd
      for (int64_t j = 0; j < group * D; ++j) o[j] = rnd<T>(acc[j]);
    }
  });
}

// silu(gate) * up over (rows, 2I) -> (rows, I), rounded after the SiLU and after the product as eager rounds.
template <typename T>
void silu_mul(const T* gate_up, T* out, int64_t rows, int64_t inner) {
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T *gate = gate_up + r * 2 * inner, *up = gate + inner;
      T* o = out + r * inner;
#pragma omp simd
      for (int64_t j = 0; j < inner; ++j) {
        const float g = f32(gate[j]);
        o[j] = rnd<T>(f32(rnd<T>(g / (1.f + fexp(-g)))) * f32(up[j]));
      }
    }
  });
}

// attend<T, D> for the head sizes this file is compiled for (HEAD_DIMS in native_step.py).
template <typename T>
void attend_any(int64_t dim, const Shape& s, const int64_t* pos, const T* cos, const T* sin, const T* qkv, T* cache,
                T* out) {
  switch (dim) {
    case 32: return attend<T, 32>(s, pos, cos, sin, qkv, cache, out);
    case 40: return attend<T, 40>(s, pos, cos, sin, qkv, cache, out);
    case 64: return attend<T, 64>(s, pos, cos, sin, qkv, cache, out);
    default: return attend<T, 128>(s, pos, cos, sin, qkv, cache, out);
  }
}

// The step in dtype T (float or bfloat16); decode_step below checks its inputs.
template <typename T>
at::Tensor run(const Shape& s, const at::Tensor& tokens, const int64_t* pos, const at::Tensor& embed,
               const std::vector<at::Tensor>& norms, const std::vector<at::Tensor>& linears,
               const std::vector<at::Tensor>& biases, const std::vector<at::Tensor>& caches, const at::Tensor& cos,
               const at::Tensor& sin, float eps, const std::vector<bool>& packed) {
  const int64_t layers = int64_t(caches.size()), rows = s.rows, width = embed.size(1), dim = caches[0].size(4),
                heads = s.heads;
  at::Tensor h = embed.index_select(0, tokens);  // (R, C), the residual stream, updated in place
  at::Tensor normed = at::empty_like(h);
  at::Tensor attended = at::empty({rows, heads * dim}, h.options());
  add_rms<T>(h.data_ptr<T>(), nullptr, norms[0].data_ptr<T>(), normed.data_ptr<T>(), rows, width, eps);
  for (int64_t l = 0; l < layers; ++l) {
    const at::Tensor qkv = linear(normed, linears[4 * l], biases[4 * l], packed[4 * l]);
    attend_any<T>(dim, s, pos, cos.data_ptr<T>(), sin.data_ptr<T>(), qkv.data_ptr<T>(), caches[l].data_ptr<T>(),
                  attended.data_ptr<T>());
    const at::Tensor o = linear(attended, linears[4 * l + 1], biases[4 * l + 1], packed[4 * l + 1]);
    add_rms(h.data_ptr<T>(), o.data_ptr<T>(), norms[2 * l + 1].data_ptr<T>(), normed.data_ptr<T>(),
            rows, width, eps);
    const at::Tensor gate_up = linear(normed, linears[4 * l + 2], biases[4 * l + 2], packed[4 * l + 2]);
    const int64_t inner = gate_up.size(1) / 2;
    at::Tensor act = at::empty({rows, inner}, h.options());
    silu_mul(gate_up.data_ptr<T>(), act.data_ptr<T>(), rows, inner);
    const at::Tensor down = linear(act, linears[4 * l + 3], biases[4 * l + 3], packed[4 * l + 3]);
    add_rms(h.data_ptr<T>(), down.data_ptr<T>(), norms[2 * l + 2].data_ptr<T>(), normed.data_ptr<T>(),
            rows, width, eps);
  }
  return linear(normed, linears[4 * layers], biases[4 * layers], packed[4 * layers]);
}

}  // namespace

// tokens, positions: (R,) int64; norms: each layer's input and post-attention weights, then the final norm's;
// linears, biases: each layer's q/k/v, output, gate/up and down projections, then the head (an empty bias is none);
// packed: which of those weights oneDNN prepacked (all of them in bfloat16); caches: the decoder's (R, 2, Hkv,
// max_len, D) tensors; cos, sin: (max_len, D) rotary tables (sin with its first half negated). Returns the
// next-token logits (R, V).
at::Tensor decode_step(const at::Tensor& tokens, const at::Tensor& positions, int64_t span, const at::Tensor& embed,
                       const std::vector<at::Tensor>& norms, const std::vector<at::Tensor>& linears,
                       const std::vector<at::Tensor>& biases, const std::vector<at::Tensor>& caches,
                       const at::Tensor& cos, const at::Tensor& sin, double eps, int64_t heads, int64_t kv_heads,
                       double scale, const std::vector<bool>& packed) {
  const int64_t layers = int64_t(caches.size()), rows = tokens.size(0), width = embed.size(1);
  const int64_t dim = caches[0].size(4);
  TORCH_CHECK(int64_t(norms.size()) == 2 * layers + 1 && int64_t(linears.size()) == 4 * layers + 1 &&
                  biases.size() == linears.size() && packed.size() == linears.size(),
              "decode_step: expected 2L + 1 norms and 4L + 1 projections for ", layers, " layers");
  const auto dtype = embed.scalar_type();
  TORCH_CHECK((dtype == at::kFloat || dtype == at::kBFloat16) && positions.scalar_type() == at::kLong,
              "decode_step: float32 or bfloat16 weights and int64 positions");
  TORCH_CHECK(dim == 32 || dim == 40 || dim == 64 || dim == 128,
              "decode_step: head_dim must be 32, 40, 64 or 128, got ", dim);
  for (const auto& cache : caches)
    TORCH_CHECK(cache.is_contiguous() && cache.size(0) == rows && cache.scalar_type() == dtype,
                "decode_step: caches must be contiguous, R rows, in the weights' dtype");
  for (const auto& norm : norms) TORCH_CHECK(norm.scalar_type() == dtype, "decode_step: norms in the weights' dtype");
  TORCH_CHECK(cos.scalar_type() == dtype && sin.scalar_type() == dtype && cos.is_contiguous() && sin.is_contiguous(),
              "decode_step: rotary tables contiguous, in the weights' dtype");
  const int64_t max_len = caches[0].size(3);
  TORCH_CHECK(positions.numel() == rows && span >= 1 && span <= max_len, "decode_step: ", positions.numel(),
              " positions for ", rows, " rows, span ", span, " of a cache of ", max_len);
  const int64_t* pos = positions.data_ptr<int64_t>();
  for (int64_t r = 0; r < rows; ++r)  // the step writes at each row's position: never outside the cache
    TORCH_CHECK(pos[r] >= 0 && pos[r] < max_len, "decode_step: row ", r, " at position ", pos[r],
                " outside a cache of ", max_len);
  const Shape shape{rows, heads, kv_heads, max_len, span, float(scale)};
  if (embed.scalar_type() == at::kFloat)
    return run<float>(shape, tokens, pos, embed, norms, linears, biases, caches, cos, sin, float(eps), packed);
  for (const bool p : packed) TORCH_CHECK(p, "decode_step: bfloat16 projections must all be prepacked");
  return run<bf16>(shape, tokens, pos, embed, norms, linears, biases, caches, cos, sin, float(eps), packed);
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("decode_step", &decode_step, "one decode step, in float32 or bfloat16");
}
