#include "CKernels.h"

#include <immintrin.h>
#include <string.h>

/* vcvtph2ps converts 16 halves exactly (subnormals included); the tail goes through a zero-padded
   vector so that nothing past the source is read. */
__attribute__((target("avx512f"))) void ck_widen_f16(const void *source, float *destination, size_t count) {
    const unsigned char *from = source;
    size_t index = 0;
    for (; index + 16 <= count; index += 16)
        _mm512_storeu_ps(destination + index, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(from + 2 * index))));
    if (index < count) {
        unsigned short tail[16] = {0};
        memcpy(tail, from + 2 * index, 2 * (count - index));
        float widened[16];
        _mm512_storeu_ps(widened, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)tail)));
        memcpy(destination + index, widened, sizeof(float) * (count - index));
    }
}

int ck_cpu_has_f16c(void) { return __builtin_cpu_supports("f16c"); }

int ck_cpu_has_avx512_fp16(void) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512fp16");
}

/* vcvtps2ph rounds to nearest even, as Float16(_:) does, overflow to infinity and NaNs kept; the
   tail goes through a zero-padded vector so that nothing past either buffer is touched. */
__attribute__((target("avx,f16c"))) void ck_narrow_f16(const float *source, unsigned short *destination, size_t count) {
    size_t index = 0;
    for (; index + 8 <= count; index += 8)
        _mm_storeu_si128((__m128i *)(destination + index),
                         _mm256_cvtps_ph(_mm256_loadu_ps(source + index), _MM_FROUND_TO_NEAREST_INT));
    if (index < count) {
        float tail[8] = {0};
        memcpy(tail, source + index, sizeof(float) * (count - index));
        unsigned short narrowed[8];
        _mm_storeu_si128((__m128i *)narrowed, _mm256_cvtps_ph(_mm256_loadu_ps(tail), _MM_FROUND_TO_NEAREST_INT));
        memcpy(destination + index, narrowed, 2 * (count - index));
    }
}
