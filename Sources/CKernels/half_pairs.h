#ifndef CKERNELS_HALF_PAIRS_H
#define CKERNELS_HALF_PAIRS_H

#include <immintrin.h>
#include <math.h>

/* The f16 kernels lay operands out in pairs along the reduced axis, so an accumulator of 32 f16
   lanes holds 16 outputs as (even, odd) partial sums: widened, the low 256 bits are outputs 0-7
   as neighbours, the high 256 bits outputs 8-15. Returns the 16 outputs' sums in f32. */
static inline __attribute__((always_inline, target("avx512f,avx512fp16"))) __m512 ck_pair_sums_f16(__m512h pairs) {
    const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odds = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    __m512i halves = _mm512_castph_si512(pairs);
    __m512 low = _mm512_cvtph_ps(_mm512_castsi512_si256(halves));
    __m512 high = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(halves, 1));
    return _mm512_add_ps(_mm512_permutex2var_ps(low, evens, high), _mm512_permutex2var_ps(low, odds, high));
}

/* One step of a pair-layout product in either 16-bit format: `sum` += the products of `pair`
   (one (even, odd) pair broadcast to every lane) and `values` (16 pairs), with the sum type,
   its zero and its f32 total named after the format, so one kernel body serves both:
   - bf16: vdpbf16ps adds both products of a pair into an f32 lane;
   - f16: vfmadd231ph keeps the even and the odd products' sums apart, in f16. */
typedef __m512 ck_pair_sum_bf16;
typedef __m512h ck_pair_sum_f16;

static inline __attribute__((always_inline, target("avx512f"))) __m512 ck_pair_zero_bf16(void) {
    return _mm512_setzero_ps();
}
static inline __attribute__((always_inline, target("avx512f,avx512fp16"))) __m512h ck_pair_zero_f16(void) {
    return _mm512_setzero_ph();
}
static inline __attribute__((always_inline, target("avx512f,avx512bf16"))) __m512
ck_pair_step_bf16(__m512 sum, __m512i pair, __m512i values) {
    return _mm512_dpbf16_ps(sum, (__m512bh)pair, (__m512bh)values);
}
static inline __attribute__((always_inline, target("avx512f,avx512fp16"))) __m512h
ck_pair_step_f16(__m512h sum, __m512i pair, __m512i values) {
    return _mm512_fmadd_ph(_mm512_castsi512_ph(pair), _mm512_castsi512_ph(values), sum);
}
static inline __attribute__((always_inline, target("avx512f"))) __m512 ck_pair_total_bf16(__m512 sum) { return sum; }
static inline __attribute__((always_inline, target("avx512f,avx512fp16"))) __m512 ck_pair_total_f16(__m512h sum) {
    return ck_pair_sums_f16(sum);
}

/* The power of two (exact) that brings `largest` into [2^(top_exponent - 1), 2^top_exponent). */
static inline float ck_power_of_two_scale(float largest, int top_exponent) {
    int exponent;
    frexpf(largest, &exponent);
    return ldexpf(1, top_exponent - exponent);
}

#endif
