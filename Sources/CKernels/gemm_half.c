#include "CKernels.h"
#include "half_pairs.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* Products of operands rounded to 16 bits, in two kernels sharing their packing and blocking:

   - bf16 on vdpbf16ps (avx512_bf16): each instruction multiplies pairs of bf16 values and adds
     both products of a pair into one f32 lane, so every sum is f32.
   - f16 on vfmadd231ph (avx512_fp16): 32 f16 products and sums per instruction, twice the f32
     FMA rate on Sapphire Rapids class Xeons, where vdpbf16ps runs no faster than f32 FMA (one
     per cycle). The sums are f16 for one run of k (at most F16_RUN values, half of them in each
     lane of a pair) and f32 from run to run: u * sqrt(128 / 6) relative, about 0.23%, below
     what rounding the operands to bf16 costs (about 0.3%).

   Both lay their operands out in pairs along k:
   - The left operand (row-major, k contiguous) is rounded row by row into a 16-bit copy; a pair of
     neighbouring k values is then one 32-bit word, which the microkernel broadcasts.
   - The right operand is packed into panels of NR columns, each panel [k/2][NR] words holding
     (b[2p][n], b[2p+1][n]); its rows are whole vectors for the microkernel. In f16 each lane of
     a pair sums every other k, and the two are added when the tile is written.
   Both round to nearest even (vcvtne2ps2bf16 as torch's `.to(torch.bfloat16)`, vcvtps2ph as
   `.to(torch.float16)`).

   The bf16 microkernel runs on 256-bit vectors: on AMD Zen 4, which executes 512-bit vdpbf16ps
   as two halves, the 256-bit form sustained 220 GFLOP/s on one core against 175 for the 512-bit
   one (f32 FMA: 110), and an 8 x 24 tile beat 14 x 32, 7 x 32 and 10 x 16 tiles on the UNet's
   product shapes. Intel's cores, which run 512-bit vectors whole, get 512-bit microkernels. */
#define CK_HALF __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,fma")))
#define CK_F16 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx512fp16,fma")))

enum {
    /* Microkernel tile rows: MR rows of 24 (256-bit vectors) or 48 (512-bit) columns are 24
       accumulators, 3 panel loads and one broadcast, 28 of the 32 vector registers. */
    MR = 8,
    NR_BF16 = 24,
    NR_WIDE = 48,
    /* k per block: every linear of Stable Diffusion (k = 320..1280 in halves) in one or two
       blocks, so the output is read and written once or twice; a panel (256 pairs x 48 columns,
       48 KB) stays in L1 while the row blocks run. The f16 microkernel sums in f16 over runs of
       F16_RUN values of a block (see above) and in f32 from run to run, in the output tile,
       which stays in L1 meanwhile. */
    KC = 512,
    F16_RUN = 256,
    /* Left rows per block: 120 x 512 values (120 KB) stays in L2 while every panel runs over it. */
    MC = 120,
    /* Columns per block: their packed panels (at most 512 x 384 values, 384 KB) stay in L2. */
    NC = 384,
};

static int min_int(int a, int b) { return a < b ? a : b; }

static __mmask16 first_lanes16(int count) {
    return count >= 16 ? (__mmask16)0xFFFF : count > 0 ? (__mmask16)((1u << count) - 1) : 0;
}

/* 32 values, x's 16 then y's 16, rounded to the kernel's 16-bit format. */
static inline __attribute__((always_inline)) CK_HALF __m512i rounded(__m512 x, __m512 y, int precision) {
    if (precision == CK_HALF_BF16) return (__m512i)_mm512_cvtne2ps_pbh(y, x);
#define CK_NEAREST (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtps_ph(x, CK_NEAREST)), _mm512_cvtps_ph(y, CK_NEAREST), 1);
#undef CK_NEAREST
}

/* `values` times `scale`, folding their magnitudes (unscaled) into `largest`. */
static inline __attribute__((always_inline)) CK_HALF __m512 scaled(__m512 values, __m512 scale, __m512 *largest) {
    *largest = _mm512_max_ps(*largest, _mm512_abs_ps(values));
    return _mm512_mul_ps(values, scale);
}

/* Where value `index` of an operand stored as `type` (CK_VALUES_*) is. */
static inline const void *value_at(const void *base, long index, int type) {
    return (const char *)base + index * (type == CK_VALUES_F32 ? 4 : 2);
}

/* The `mask`ed of 16 values from `from` (stored as `type`) as f32: f16 and bf16 widen exactly. */
static inline __attribute__((always_inline)) CK_HALF __m512 loaded(const void *from, int type, __mmask16 mask) {
    if (type == CK_VALUES_F32) return _mm512_maskz_loadu_ps(mask, from);
    __m256i bits = _mm256_maskz_loadu_epi16(mask, from);
    if (type == CK_VALUES_F16) return _mm512_cvtph_ps(bits);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
}

/* Rows [0, rows) x k [0, depth) of `a` (stored as `type`) times `scale` in 16 bits, `pitch`
   (even, >= depth) values apart; an odd depth gets a zero after its last value, completing the
   last pair. Returns the largest magnitude of the values read (unscaled). */
static inline __attribute__((always_inline)) CK_HALF float
convert_rows(const void *a, int type, long lda, int rows, int depth, int pitch, float scale, uint16_t *to,
             int precision) {
    __m512 by = _mm512_set1_ps(scale), largest = _mm512_setzero_ps();
    for (int row = 0; row < rows; row++) {
        const void *from = value_at(a, row * lda, type);
        uint16_t *out = to + (long)row * pitch;
        int k = 0;
        for (; k + 32 <= depth; k += 32)
            _mm512_storeu_si512(out + k, rounded(scaled(loaded(value_at(from, k, type), type, 0xFFFF), by, &largest),
                                                 scaled(loaded(value_at(from, k + 16, type), type, 0xFFFF), by, &largest),
                                                 precision));
        if (k < depth) {
            int rest = depth - k;
            __m512i values =
                rounded(scaled(loaded(value_at(from, k, type), type, first_lanes16(rest)), by, &largest),
                        scaled(loaded(value_at(from, k + 16, type), type, first_lanes16(rest - 16)), by, &largest),
                        precision);
            int stored = ((depth + 1) & ~1) - k;
            _mm512_mask_storeu_epi16(out + k, (__mmask32)((1ull << stored) - 1), values);
        }
    }
    return _mm512_reduce_max_ps(largest);
}

/* convert_rows with the stored type a constant in each loop. */
CK_HALF static float convert_left(const void *a, int type, long lda, int rows, int depth, int pitch, float scale,
                                  uint16_t *to, int precision) {
    switch (type) {
        case CK_VALUES_F16: return convert_rows(a, CK_VALUES_F16, lda, rows, depth, pitch, scale, to, precision);
        case CK_VALUES_BF16: return convert_rows(a, CK_VALUES_BF16, lda, rows, depth, pitch, scale, to, precision);
        default: return convert_rows(a, CK_VALUES_F32, lda, rows, depth, pitch, scale, to, precision);
    }
}

/* x (low halves) and y (high halves) interleaved lane by lane into 16 pair words. */
CK_HALF static __m512i pair_words(__m512 x, __m512 y, int precision) {
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7,
                                                22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(interleave, rounded(x, y, precision));
}

/* Panels of `nr` columns of a right operand stored k x n (n contiguous, as `type`), times
   `scale`: rows [0, depth), columns [0, width); columns past `width` are zeros. Returns the
   largest magnitude read (unscaled). */
CK_HALF static float pack_right_rows(const void *b, int type, long ldb, int depth, int width, int nr, float scale,
                                     uint32_t *to, int precision) {
    __m512 by = _mm512_set1_ps(scale), largest = _mm512_setzero_ps();
    int pairs = (depth + 1) / 2;
    for (int first = 0; first < width; first += nr) {
        uint32_t *panel = to + (long)(first / nr) * pairs * nr;
        for (int chunk = 0; chunk < nr; chunk += 16) {
            __mmask16 loaded_lanes = first_lanes16(min_int(width - first - chunk, nr - chunk));
            __mmask16 stored = first_lanes16(nr - chunk);
            const void *column = value_at(b, first + chunk, type);
            for (int p = 0; p < pairs; p++) {
                __m512 x = scaled(loaded(value_at(column, (long)(2 * p) * ldb, type), type, loaded_lanes), by, &largest);
                __m512 y = 2 * p + 1 < depth ? scaled(loaded(value_at(column, (long)(2 * p + 1) * ldb, type), type,
                                                             loaded_lanes),
                                                      by, &largest)
                                             : _mm512_setzero_ps();
                _mm512_mask_storeu_epi32(panel + p * nr + chunk, stored, pair_words(x, y, precision));
            }
        }
    }
    return _mm512_reduce_max_ps(largest);
}

/* Panels of a right operand stored n x k (k contiguous, a linear's weight): column n's pairs are
   neighbours in its stored row, so each row is converted as the left operand is, then spread
   into its lane of the panel. Returns the largest magnitude read (unscaled). */
CK_HALF static float pack_right_columns(const void *b, int type, long ldb, int depth, int width, int nr, float scale,
                                        uint32_t *to, uint16_t *row_scratch, int precision) {
    int pairs = (depth + 1) / 2;
    float largest = 0;
    for (int first = 0; first < width; first += nr) {
        uint32_t *panel = to + (long)(first / nr) * pairs * nr;
        int columns = min_int(nr, width - first);
        for (int lane = 0; lane < nr; lane++) {
            if (lane < columns) {
                float row_largest =
                    convert_left(value_at(b, (long)(first + lane) * ldb, type), type, ldb, 1, depth, 2 * pairs, scale,
                                 row_scratch, precision);
                if (row_largest > largest) largest = row_largest;
                const uint32_t *words = (const uint32_t *)row_scratch;
                for (int p = 0; p < pairs; p++) panel[p * nr + lane] = words[p];
            } else {
                for (int p = 0; p < pairs; p++) panel[p * nr + lane] = 0;
            }
        }
    }
    return largest;
}

/* Writes `sum` (16 f32 columns) as alpha * sum + beta * out, the first `columns` of them. */
static inline __attribute__((always_inline)) CK_HALF void
store_columns(__m512 sum, float *out, int columns, float alpha, float beta) {
    __mmask16 mask = first_lanes16(columns);
    __m512 value = _mm512_mul_ps(sum, _mm512_set1_ps(alpha));
    if (beta != 0) value = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, out), _mm512_set1_ps(beta), value);
    _mm512_mask_storeu_ps(out, mask, value);
}

/* The microkernels: c[rows x columns] = alpha * (left rows @ panel) + beta * c over `pairs` steps
   of k (c is not read where beta is 0); row r's pairs start at left + r * KC. `rows` is a
   constant at every call (see the tile functions), so the accumulators stay in registers, and
   the fixed row pitch lets every broadcast address one base register. */
static inline __attribute__((always_inline)) CK_HALF void
micro_tile_bf16(int rows, const uint16_t *left, const uint32_t *panel, int pairs, float *c, long ldc, int columns,
                float alpha, float beta) {
    enum { vectors = NR_BF16 / 8, row_step = KC / 2 };
    __m256 acc[MR][vectors];
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < vectors; v++) acc[r][v] = _mm256_setzero_ps();
    const uint32_t *row_pairs = (const uint32_t *)left;
    for (int p = 0; p < pairs; p++) {
        __m256bh right[vectors];
        for (int v = 0; v < vectors; v++)
            right[v] = (__m256bh)_mm256_loadu_si256((const __m256i *)(panel + p * NR_BF16 + 8 * v));
        for (int r = 0; r < rows; r++) {
            __m256bh pair = (__m256bh)_mm256_set1_epi32((int)row_pairs[r * row_step + p]);
            for (int v = 0; v < vectors; v++) acc[r][v] = _mm256_dpbf16_ps(acc[r][v], pair, right[v]);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < vectors; v += 2) {
            __m512 sum = _mm512_insertf32x8(_mm512_castps256_ps512(acc[r][v]),
                                            v + 1 < vectors ? acc[r][v + 1] : _mm256_setzero_ps(), 1);
            store_columns(sum, c + r * ldc + 8 * v, columns - 8 * v, alpha, beta);
        }
}

/* The same on 512-bit vectors, for Intel's AVX-512 cores, which run them whole: on a Sapphire
   Rapids class Xeon the 256-bit form above ran at a quarter of the f32 sgemm rate. One body
   serves bf16 and f16 (half_pairs.h names each format's sum type, step and total). The block's
   pairs run in runs of `RUN_PAIRS`, each summed from zero and added to the output tile: f16
   sums stay short (F16_RUN), bf16 sums are f32 and take the whole block as one run. */
#define CK_WIDE_MICRO_TILE(FORMAT, TARGET, RUN_PAIRS)                                                             \
    static inline __attribute__((always_inline)) TARGET void micro_tile_##FORMAT##_wide(                        \
        int rows, const uint16_t *left, const uint32_t *panel, int pairs, float *c, long ldc, int columns,        \
        float alpha, float beta) {                                                                                \
        enum { vectors = NR_WIDE / 16, row_step = KC / 2 };                                                       \
        const uint32_t *row_pairs = (const uint32_t *)left;                                                       \
        for (int first = 0; first < pairs; first += RUN_PAIRS) {                                                  \
            int last = min_int(pairs, first + RUN_PAIRS);                                                         \
            ck_pair_sum_##FORMAT acc[MR][vectors];                                                                \
            for (int r = 0; r < rows; r++)                                                                        \
                for (int v = 0; v < vectors; v++) acc[r][v] = ck_pair_zero_##FORMAT();                            \
            for (int p = first; p < last; p++) {                                                                  \
                __m512i right[vectors];                                                                           \
                for (int v = 0; v < vectors; v++) right[v] = _mm512_loadu_si512(panel + p * NR_WIDE + 16 * v);    \
                for (int r = 0; r < rows; r++) {                                                                  \
                    __m512i pair = _mm512_set1_epi32((int)row_pairs[r * row_step + p]);                           \
                    for (int v = 0; v < vectors; v++) acc[r][v] = ck_pair_step_##FORMAT(acc[r][v], pair, right[v]); \
                }                                                                                                 \
            }                                                                                                     \
            float run_beta = first == 0 ? beta : 1.0f;                                                            \
            for (int r = 0; r < rows; r++)                                                                        \
                for (int v = 0; v < vectors; v++)                                                                 \
                    store_columns(ck_pair_total_##FORMAT(acc[r][v]), c + r * ldc + 16 * v, columns - 16 * v, alpha, \
                                  run_beta);                                                                      \
        }                                                                                                         \
    }

CK_WIDE_MICRO_TILE(bf16, CK_HALF, KC / 2)
CK_WIDE_MICRO_TILE(f16, CK_F16, F16_RUN / 2)

typedef void (*tile_function)(int rows, const uint16_t *left, const uint32_t *panel, int pairs, float *c, long ldc,
                              int columns, float alpha, float beta);

#define CK_TILE_ROWS(KERNEL, ROWS) \
    case ROWS: KERNEL(ROWS, left, panel, pairs, c, ldc, columns, alpha, beta); break;
#define CK_TILE_FUNCTION(NAME, TARGET, KERNEL)                                                                    \
    TARGET static void NAME(int rows, const uint16_t *left, const uint32_t *panel, int pairs, float *c, long ldc, \
                            int columns, float alpha, float beta) {                                               \
        switch (rows) {                                                                                           \
            CK_TILE_ROWS(KERNEL, 1) CK_TILE_ROWS(KERNEL, 2) CK_TILE_ROWS(KERNEL, 3) CK_TILE_ROWS(KERNEL, 4)       \
            CK_TILE_ROWS(KERNEL, 5) CK_TILE_ROWS(KERNEL, 6) CK_TILE_ROWS(KERNEL, 7) CK_TILE_ROWS(KERNEL, 8)       \
            default: break;                                                                                       \
        }                                                                                                         \
    }

CK_TILE_FUNCTION(tile_bf16, CK_HALF, micro_tile_bf16)
CK_TILE_FUNCTION(tile_bf16_wide, CK_HALF, micro_tile_bf16_wide)
CK_TILE_FUNCTION(tile_f16, CK_F16, micro_tile_f16_wide)

/* Each thread keeps its packing buffers between products (a UNet evaluation runs thousands):
   freshly mapped ones would fault in every page on every call. */
static _Thread_local void *thread_scratch;

enum {
    PACKED_RIGHT_WORDS = (NC / NR_BF16) * (KC / 2) * NR_BF16,
    SCRATCH_BYTES = PACKED_RIGHT_WORDS * 4 + MC * KC * 2 + KC * 2,
};

/* f16 blocks are packed at scale 1, and again at a power of two (exact) when that leaves them
   outside [1/16, 256] or lets a lane's sum of F16_RUN / 2 products pass 2^15: the scale then
   brings the right block's largest magnitude into [8, 16) and the left's so that a product is
   at most 256 (a lane's sums stay below f16's largest value, 65504), while values down to 2^-18
   of the largest stay normal. Blocks of zeros or of non-finite values keep scale 1: f32
   arithmetic carries those into the result too. */
static int f16_fits(float largest, float bound) { return !(largest > 0) || largest > 3.0e38f || (largest >= 0.0625f && largest <= bound); }


CK_HALF void ck_gemm_half(int precision, int transpose_b, int m, int n, int k, float alpha, const void *a, int a_type,
                          long lda, const void *b, int b_type, long ldb, float beta, float *c, long ldc) {
    if (!thread_scratch && posix_memalign(&thread_scratch, 64, SCRATCH_BYTES) != 0) abort();
    int f16 = precision == CK_HALF_F16, wide = f16 || !__builtin_cpu_is("amd");
    int nr = wide ? NR_WIDE : NR_BF16;
    /* k in blocks of equal (even) depth: 640 as 320 + 320 rather than 512 + 128. */
    int k_blocks = (k + KC - 1) / KC, kc = ((k + k_blocks - 1) / k_blocks + 1) & ~1;
    tile_function tile = f16 ? tile_f16 : wide ? tile_bf16_wide : tile_bf16;
    uint32_t *packed_right = thread_scratch;
    uint16_t *packed_left = (uint16_t *)(packed_right + PACKED_RIGHT_WORDS);
    uint16_t *row_scratch = packed_left + MC * KC;
    for (int n0 = 0; n0 < n; n0 += NC) {
        int width = min_int(NC, n - n0);
        for (int k0 = 0; k0 < k; k0 += kc) {
            int depth = min_int(kc, k - k0);
            int pairs = (depth + 1) / 2;
            float block_beta = k0 == 0 ? beta : 1.0f;
            const void *right = value_at(b, transpose_b ? (long)n0 * ldb + k0 : (long)k0 * ldb + n0, b_type);
            float right_scale = 1, right_largest;
            for (;;) {
                right_largest = transpose_b ? pack_right_columns(right, b_type, ldb, depth, width, nr, right_scale,
                                                                 packed_right, row_scratch, precision)
                                            : pack_right_rows(right, b_type, ldb, depth, width, nr, right_scale,
                                                              packed_right, precision);
                if (!f16 || right_scale != 1 || f16_fits(right_largest, 256)) break;
                right_scale = ck_power_of_two_scale(right_largest, 4);
            }
            float right_magnitude = right_largest * right_scale;
            float right_bound = right_magnitude > 0 && right_magnitude <= 3.0e38f ? 256 / right_magnitude : INFINITY;
            for (int m0 = 0; m0 < m; m0 += MC) {
                int rows = min_int(MC, m - m0);
                const void *left = value_at(a, (long)m0 * lda + k0, a_type);
                float left_scale = 1;
                float left_largest = convert_left(left, a_type, lda, rows, depth, KC, left_scale, packed_left, precision);
                if (f16 && !f16_fits(left_largest, right_bound)) {
                    left_scale = ck_power_of_two_scale(left_largest * (right_bound < INFINITY ? right_magnitude : 1), 8);
                    convert_left(left, a_type, lda, rows, depth, KC, left_scale, packed_left, precision);
                }
                float block_alpha = alpha / (left_scale * right_scale);
                for (int first = 0; first < width; first += nr) {
                    const uint32_t *panel = packed_right + (long)(first / nr) * pairs * nr;
                    for (int r0 = 0; r0 < rows; r0 += MR)
                        tile(min_int(MR, rows - r0), packed_left + (long)r0 * KC, panel, pairs,
                             c + (long)(m0 + r0) * ldc + n0 + first, ldc, min_int(nr, width - first), block_alpha,
                             block_beta);
                }
            }
        }
    }
}
