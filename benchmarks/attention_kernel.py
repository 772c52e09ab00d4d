"""A hand-written C++ decode attention, built at first use, to measure what a kernel of our own would buy (issue 20).

Why: in a bfloat16 decode step of SmolLM2-135M at 32 rows, torch's CPU flash kernel is the largest cost that is not
a matrix product (16-17% of the step by ``torch.profiler`` on an AMD EPYC without AMX, 0.3-0.6 ms a layer at 33-96
cached positions), though a layer's keys and values at those spans are 0.8-2.4 MB: at the 28-30 GB/s one core
streams here (a ``sum`` over 330 MB), 30-80 µs of memory. This kernel does the same maths in the plainest form: one
task per (row, key head) on torch's intra-op pool, the query heads that share the key head read it once, scores,
softmax and the weighted sum in float32, the row's visible keys given by its position (no additive mask). It is
compiled with ``-O3 -march=native -ffast-math`` (so the compiler vectorises ``expf`` through glibc's vector maths;
the softmax starts its maximum from the first score, so no infinity is needed) into torch's extension cache, under a
name that carries this CPU's model and instruction-set flags (what ``-march=native`` compiles for), so another CPU
sharing a home folder builds its own.

Not used by the library: :mod:`benchmarks.decode_attention` times it in place of the decoder's attention
(``--kernel``). What it measured, and why it stays here, is in ``docs/performance.md``.
"""

from __future__ import annotations

import functools
import hashlib

import torch

from rlvr_lab.runtime.precision import cpu_flags, cpu_model

_SOURCE = r"""
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

static inline float as_float(float x) { return x; }
static inline float as_float(c10::BFloat16 x) {
  uint32_t bits = uint32_t(x.x) << 16;  // bfloat16 is the top half of a float32
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// q (R, Hkv, G, D) contiguous; keys, values (R, Hkv, S, D) with any strides (views of the decoder's cache);
// visible (R,) int64: row r attends keys 0 .. visible[r] - 1. Returns (R, Hkv, G, D).
template <typename T>
void attend(const torch::Tensor& q, const torch::Tensor& keys, const torch::Tensor& values,
            const torch::Tensor& visible, double scale, torch::Tensor& out) {
  const int64_t R = q.size(0), H = q.size(1), G = q.size(2), D = q.size(3), S = keys.size(2);
  const T* qp = q.data_ptr<T>();
  const T* kp = keys.data_ptr<T>();
  const T* vp = values.data_ptr<T>();
  const int64_t* seen = visible.data_ptr<int64_t>();
  T* op = out.data_ptr<T>();
  at::parallel_for(0, R * H, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> qf(G * D), scores(G * S), acc(G * D), row(D), total(G);
    for (int64_t i = begin; i < end; ++i) {
      const int64_t r = i / H, h = i % H, n = std::min<int64_t>(seen[r], S);
      const T* qi = qp + i * G * D;
      for (int64_t j = 0; j < G * D; ++j) qf[j] = as_float(qi[j]) * float(scale);
      const T* kb = kp + r * keys.stride(0) + h * keys.stride(1);
      for (int64_t s = 0; s < n; ++s) {
        const T* k = kb + s * keys.stride(2);
        for (int64_t d = 0; d < D; ++d) row[d] = as_float(k[d]);
        for (int64_t g = 0; g < G; ++g) {
          const float* qg = qf.data() + g * D;
          float dot = 0.f;
#pragma omp simd reduction(+ : dot)
          for (int64_t d = 0; d < D; ++d) dot += qg[d] * row[d];
          scores[g * S + s] = dot;
        }
      }
      for (int64_t g = 0; g < G; ++g) {
        float* p = scores.data() + g * S;
        float top = p[0], z = 0.f;
        for (int64_t s = 1; s < n; ++s) top = std::max(top, p[s]);
#pragma omp simd reduction(+ : z)
        for (int64_t s = 0; s < n; ++s) {
          p[s] = expf(p[s] - top);
          z += p[s];
        }
        total[g] = z;
      }
      std::fill(acc.begin(), acc.end(), 0.f);
      const T* vb = vp + r * values.stride(0) + h * values.stride(1);
      for (int64_t s = 0; s < n; ++s) {
        const T* v = vb + s * values.stride(2);
        for (int64_t d = 0; d < D; ++d) row[d] = as_float(v[d]);
        for (int64_t g = 0; g < G; ++g) {
          const float p = scores[g * S + s];
          float* a = acc.data() + g * D;
#pragma omp simd
          for (int64_t d = 0; d < D; ++d) a[d] += p * row[d];
        }
      }
      T* o = op + i * G * D;
      for (int64_t g = 0; g < G; ++g)
        for (int64_t d = 0; d < D; ++d) o[g * D + d] = static_cast<T>(acc[g * D + d] / total[g]);
    }
  });
}

torch::Tensor decode_attention(torch::Tensor q, torch::Tensor keys, torch::Tensor values, torch::Tensor visible,
                               double scale) {
  TORCH_CHECK(q.is_contiguous() && keys.stride(3) == 1 && values.stride(3) == 1, "unsupported layout");
  auto out = torch::empty_like(q);
  if (q.scalar_type() == at::kBFloat16) attend<c10::BFloat16>(q, keys, values, visible, scale, out);
  else attend<float>(q, keys, values, visible, scale, out);
  return out;
}
"""


@functools.cache
def build():
    """The compiled extension (26 s the first time here; then 2 s, loaded from torch's extension cache)."""
    from torch.utils.cpp_extension import load_inline

    cpu = hashlib.sha1(" ".join([cpu_model(), *sorted(cpu_flags())]).encode()).hexdigest()[:8]
    return load_inline(
        f"rlvr_bench_decode_attention_{cpu}",
        cpp_sources=_SOURCE,
        functions=["decode_attention"],
        extra_cflags=["-O3", "-march=native", "-ffast-math", "-fopenmp"],
    )


def kernel_attention(
    q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor | None, scale: float
) -> torch.Tensor:
    """Drop-in for :func:`rlvr_lab.engines.lean_decoder.decode_attention` (same arguments, same result shape).

    The decoder's additive mask hides each row's keys beyond its position, a suffix of ``-inf``; the kernel takes
    the number of visible keys instead.
    """
    rows, heads, dim = q.shape
    grouped = q.reshape(rows, keys.shape[1], heads // keys.shape[1], dim).contiguous()
    span = keys.shape[2]
    visible = torch.full((rows,), span) if mask is None else (mask.view(rows, span) == 0).sum(-1)
    return build().decode_attention(grouped, keys, values, visible, scale)
