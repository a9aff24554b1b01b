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
