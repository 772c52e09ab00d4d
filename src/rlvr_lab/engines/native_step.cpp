// One bfloat16 decode step of a Llama-like model in one C++ call: what rlvr_lab/engines/native_step.py builds
// and calls (its docstring says why). The matrix products stay oneDNN's, on the weights the lean decoder prepacked;
// everything between them (norms, rope, the cache write, attention, SiLU, residuals) runs here in loops the compiler
// vectorises, with each intermediate rounded to bfloat16 where the eager path rounds it.
#include <torch/extension.h>

#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

using bf16 = c10::BFloat16;

inline float f32(bf16 x) {
  const uint32_t bits = uint32_t(x.x) << 16;  // bfloat16 is the top half of a float32
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Round to nearest even, as torch converts float32 to bfloat16 (finite values; NaN is not produced here).
inline bf16 rnd(float f) {
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

// oneDNN's product on a weight prepacked by torch.ops.mkldnn._reorder_linear_weight (the lean decoder's
// _PackedLinear calls the same op from Python). An empty bias means none.
at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
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
void add_rms(bf16* h, const bf16* add, const bf16* weight, bf16* out, int64_t rows, int64_t width, float eps) {
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      bf16* x = h + r * width;
      if (add != nullptr) {
        const bf16* a = add + r * width;
#pragma omp simd
        for (int64_t c = 0; c < width; ++c) x[c] = rnd(f32(x[c]) + f32(a[c]));
      }
      float squares = 0.f;
#pragma omp simd reduction(+ : squares)
      for (int64_t c = 0; c < width; ++c) squares += f32(x[c]) * f32(x[c]);
      const float inv = 1.f / std::sqrt(squares / float(width) + eps);
      bf16* o = out + r * width;
#pragma omp simd
      for (int64_t c = 0; c < width; ++c) o[c] = rnd(f32(weight[c]) * f32(rnd(f32(x[c]) * inv)));
    }
  });
}

// x*cos + rotate_half(x)*signed_sin, each product and the sum rounded as the eager path rounds them.
template <int64_t D>
inline void rope(const bf16* x, const bf16* cos, const bf16* sin, bf16* out) {
  constexpr int64_t half = D / 2;
#pragma omp simd
  for (int64_t d = 0; d < half; ++d)
    out[d] = rnd(f32(rnd(f32(x[d]) * f32(cos[d]))) + f32(rnd(f32(x[d + half]) * f32(sin[d]))));
#pragma omp simd
  for (int64_t d = half; d < D; ++d)
    out[d] = rnd(f32(rnd(f32(x[d]) * f32(cos[d]))) + f32(rnd(f32(x[d - half]) * f32(sin[d]))));
}

struct Shape {
  int64_t rows, heads, kv_heads, max_len, span;
  float scale;
};

// Rope on the queries and the new key, the key and value written at each row's position, and attention of each
// row over its keys 0 .. position (float32 scores, softmax and sum). qkv: (rows, (H + 2 Hkv) D); cache: (rows, 2,
// Hkv, max_len, D); out: (rows, H D). One task per (row, key head): the H / Hkv query heads that share a key head
// read its keys and values once.
template <int64_t D>
void attend(const Shape& s, const int64_t* positions, const bf16* cos, const bf16* sin, const bf16* qkv,
            bf16* cache, bf16* out) {
  const int64_t group = s.heads / s.kv_heads, width = (s.heads + 2 * s.kv_heads) * D;
  at::parallel_for(0, s.rows * s.kv_heads, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> q(group * D), scores(group * s.max_len), acc(group * D), row(D);
    bf16 rotated[D];
    for (int64_t i = begin; i < end; ++i) {
      const int64_t r = i / s.kv_heads, kh = i % s.kv_heads, p = positions[r];
      const bf16 *c = cos + p * D, *sn = sin + p * D, *x = qkv + r * width;
      for (int64_t g = 0; g < group; ++g) {
        rope<D>(x + (kh * group + g) * D, c, sn, rotated);
#pragma omp simd
        for (int64_t d = 0; d < D; ++d) q[g * D + d] = f32(rotated[d]) * s.scale;
      }
      bf16* keys = cache + ((r * 2 + 0) * s.kv_heads + kh) * s.max_len * D;
      bf16* values = cache + ((r * 2 + 1) * s.kv_heads + kh) * s.max_len * D;
      rope<D>(x + (s.heads + kh) * D, c, sn, keys + p * D);
      std::memcpy(values + p * D, x + (s.heads + s.kv_heads + kh) * D, D * sizeof(bf16));
      const int64_t seen = std::min<int64_t>(p + 1, s.span);  // the row's keys up to its own position
      for (int64_t t = 0; t < seen; ++t) {
        const bf16* k = keys + t * D;
#pragma omp simd
        for (int64_t d = 0; d < D; ++d) row[d] = f32(k[d]);
        for (int64_t g = 0; g < group; ++g) {
          const float* qg = q.data() + g * D;
          float dot = 0.f;
#pragma omp simd reduction(+ : dot)
          for (int64_t d = 0; d < D; ++d) dot += qg[d] * row[d];
          scores[g * s.max_len + t] = dot;
        }
      }
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
      std::fill(acc.begin(), acc.end(), 0.f);
      for (int64_t t = 0; t < seen; ++t) {
        const bf16* v = values + t * D;
#pragma omp simd
        for (int64_t d = 0; d < D; ++d) row[d] = f32(v[d]);
        for (int64_t g = 0; g < group; ++g) {
          const float w = scores[g * s.max_len + t];
          float* a = acc.data() + g * D;
#pragma omp simd
          for (int64_t d = 0; d < D; ++d) a[d] += w * row[d];
        }
      }
      bf16* o = out + r * s.heads * D + kh * group * D;
#pragma omp simd
      for (int64_t j = 0; j < group * D; ++j) o[j] = rnd(acc[j]);
    }
  });
}

// silu(gate) * up over (rows, 2I) -> (rows, I), rounded after the SiLU and after the product as eager rounds.
void silu_mul(const bf16* gate_up, bf16* out, int64_t rows, int64_t inner) {
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const bf16 *gate = gate_up + r * 2 * inner, *up = gate + inner;
      bf16* o = out + r * inner;
#pragma omp simd
      for (int64_t j = 0; j < inner; ++j) {
        const float g = f32(gate[j]);
        o[j] = rnd(f32(rnd(g / (1.f + fexp(-g)))) * f32(up[j]));
      }
    }
  });
}

}  // namespace

// tokens, positions: (R,) int64; norms: each layer's input and post-attention weights, then the final norm's;
// linears, biases: each layer's packed q/k/v, output, gate/up and down projections, then the head (an empty bias is
// none); caches: the decoder's (R, 2, Hkv, max_len, D) tensors; cos, sin: (max_len, D) rotary tables (sin with its
// first half negated). Returns the next-token logits (R, V).
at::Tensor decode_step(const at::Tensor& tokens, const at::Tensor& positions, int64_t span, const at::Tensor& embed,
                       const std::vector<at::Tensor>& norms, const std::vector<at::Tensor>& linears,
                       const std::vector<at::Tensor>& biases, const std::vector<at::Tensor>& caches,
                       const at::Tensor& cos, const at::Tensor& sin, double eps, int64_t heads, int64_t kv_heads,
                       double scale) {
  const int64_t layers = int64_t(caches.size()), rows = tokens.size(0), width = embed.size(1);
  const int64_t dim = caches[0].size(4);
  TORCH_CHECK(int64_t(norms.size()) == 2 * layers + 1 && int64_t(linears.size()) == 4 * layers + 1 &&
                  biases.size() == linears.size(),
              "decode_step: expected 2L + 1 norms and 4L + 1 projections for ", layers, " layers");
  TORCH_CHECK(embed.scalar_type() == at::kBFloat16 && positions.scalar_type() == at::kLong, "decode_step: dtypes");
  TORCH_CHECK(dim == 64 || dim == 128, "decode_step: head_dim must be 64 or 128, got ", dim);
  for (const auto& cache : caches)
    TORCH_CHECK(cache.is_contiguous() && cache.size(0) == rows, "decode_step: caches must be contiguous, R rows");
  const int64_t max_len = caches[0].size(3);
  TORCH_CHECK(positions.numel() == rows && span >= 1 && span <= max_len, "decode_step: ", positions.numel(),
              " positions for ", rows, " rows, span ", span, " of a cache of ", max_len);
  const int64_t* pos = positions.data_ptr<int64_t>();
  for (int64_t r = 0; r < rows; ++r)  // the step writes at each row's position: never outside the cache
    TORCH_CHECK(pos[r] >= 0 && pos[r] < max_len, "decode_step: row ", r, " at position ", pos[r],
                " outside a cache of ", max_len);
  const Shape shape{rows, heads, kv_heads, max_len, span, float(scale)};
  const float feps = float(eps);
  at::Tensor h = embed.index_select(0, tokens);  // (R, C), the residual stream, updated in place
  at::Tensor normed = at::empty_like(h);
  at::Tensor attended = at::empty({rows, heads * dim}, h.options());
  add_rms(h.data_ptr<bf16>(), nullptr, norms[0].data_ptr<bf16>(), normed.data_ptr<bf16>(), rows, width, feps);
  for (int64_t l = 0; l < layers; ++l) {
    const at::Tensor qkv = linear(normed, linears[4 * l], biases[4 * l]);
    if (dim == 64)
      attend<64>(shape, pos, cos.data_ptr<bf16>(), sin.data_ptr<bf16>(), qkv.data_ptr<bf16>(),
                 caches[l].data_ptr<bf16>(), attended.data_ptr<bf16>());
    else
      attend<128>(shape, pos, cos.data_ptr<bf16>(), sin.data_ptr<bf16>(), qkv.data_ptr<bf16>(),
                  caches[l].data_ptr<bf16>(), attended.data_ptr<bf16>());
    const at::Tensor o = linear(attended, linears[4 * l + 1], biases[4 * l + 1]);
    add_rms(h.data_ptr<bf16>(), o.data_ptr<bf16>(), norms[2 * l + 1].data_ptr<bf16>(), normed.data_ptr<bf16>(),
            rows, width, feps);
    const at::Tensor gate_up = linear(normed, linears[4 * l + 2], biases[4 * l + 2]);
    const int64_t inner = gate_up.size(1) / 2;
    at::Tensor act = at::empty({rows, inner}, h.options());
    silu_mul(gate_up.data_ptr<bf16>(), act.data_ptr<bf16>(), rows, inner);
    const at::Tensor down = linear(act, linears[4 * l + 3], biases[4 * l + 3]);
    add_rms(h.data_ptr<bf16>(), down.data_ptr<bf16>(), norms[2 * l + 2].data_ptr<bf16>(), normed.data_ptr<bf16>(),
            rows, width, feps);
  }
  return linear(normed, linears[4 * layers], biases[4 * layers]);
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) { m.def("decode_step", &decode_step, "one bfloat16 decode step"); }
