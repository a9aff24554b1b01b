#include "CKernels.h"

#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>

/* A bf16 product with f32 accumulation, built on vdpbf16ps: each instruction multiplies pairs of
   bf16 values and adds both products of a pair into one f32 lane, so both operands are laid out
   in pairs along k.

   - The left operand (row-major, k contiguous) is rounded row by row into a bf16 copy; a pair of
     neighbouring k values is then one 32-bit word, which the microkernel broadcasts.
   - The right operand is packed into panels of NR columns, each panel [k/2][NR] words holding
     (b[2p][n], b[2p+1][n]); its rows are whole vectors for the microkernel.
   Both are rounded to nearest even (vcvtne2ps2bf16), as torch's `.to(torch.bfloat16)` does.

   The microkernel runs on 256-bit vectors: on AMD Zen 4, which executes 512-bit vdpbf16ps as two
   halves, the 256-bit form sustained 220 GFLOP/s on one core against 175 for the 512-bit one
   (f32 FMA: 110), and an 8 x 24 tile beat 14 x 32, 7 x 32 and 10 x 16 tiles on the UNet's
   product shapes. */
#define CK_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma")))

enum {
    /* Microkernel tile: 8 rows x 24 columns is 24 accumulators, 3 panel loads and one broadcast,
       28 of the 32 vector registers. */
    MR = 8,
    NR = 24,
    NR_VECTORS = NR / 8,
    /* k per block: every linear of Stable Diffusion (k = 320..1280 in halves) in one or two
       blocks; a panel (256 pairs x 24 columns, 24 KB) stays in L1 while the row blocks run. */
    KC = 512,
    /* Left rows per block: 120 x 512 bf16 (120 KB) stays in L2 while every panel runs over it. */
    MC = 120,
    /* Columns per block: their packed panels (512 x 384 bf16, 384 KB) stay in L2. */
    NC = 384,
};

static int min_int(int a, int b) { return a < b ? a : b; }

static __mmask16 first_lanes16(int count) {
    return count >= 16 ? (__mmask16)0xFFFF : count > 0 ? (__mmask16)((1u << count) - 1) : 0;
}

/* Rows [0, rows) x k [0, depth) of `a` into bf16, `pitch` (even, >= depth) values apart; an odd
   depth gets a zero after its last value, completing the last pair. */
CK_BF16 static void convert_left(const float *a, long lda, int rows, int depth, int pitch, uint16_t *to) {
    for (int row = 0; row < rows; row++) {
        const float *from = a + row * lda;
        uint16_t *out = to + (long)row * pitch;
        int k = 0;
        for (; k + 32 <= depth; k += 32) {
            __m512bh pair = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(from + k + 16), _mm512_loadu_ps(from + k));
            _mm512_storeu_si512(out + k, (__m512i)pair);
        }
        if (k < depth) {
            int rest = depth - k;
            __m512bh pair = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(first_lanes16(rest - 16), from + k + 16),
                                                _mm512_maskz_loadu_ps(first_lanes16(rest), from + k));
            int stored = ((depth + 1) & ~1) - k;
            _mm512_mask_storeu_epi16(out + k, (__mmask32)((1ull << stored) - 1), (__m512i)pair);
        }
    }
}

/* bf16(x) (low halves) and bf16(y) (high halves) interleaved lane by lane into 16 pair words. */
CK_BF16 static __m512i pair_words(__m512 x, __m512 y) {
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7,
                                                22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(y, x));
}

/* Panels of a right operand stored k x n (n contiguous): rows [0, depth), columns [0, width);
   columns past `width` are zeros. */
CK_BF16 static void pack_right_rows(const float *b, long ldb, int depth, int width, uint32_t *to) {
    int pairs = (depth + 1) / 2;
    for (int first = 0; first < width; first += NR) {
        uint32_t *panel = to + (long)(first / NR) * pairs * NR;
        for (int chunk = 0; chunk < NR; chunk += 16) {
            __mmask16 loaded = first_lanes16(min_int(width - first - chunk, NR - chunk));
            __mmask16 stored = first_lanes16(NR - chunk);
            const float *column = b + first + chunk;
            for (int p = 0; p < pairs; p++) {
                __m512 x = _mm512_maskz_loadu_ps(loaded, column + (long)(2 * p) * ldb);
                __m512 y = 2 * p + 1 < depth ? _mm512_maskz_loadu_ps(loaded, column + (long)(2 * p + 1) * ldb)
                                             : _mm512_setzero_ps();
                _mm512_mask_storeu_epi32(panel + p * NR + chunk, stored, pair_words(x, y));
            }
        }
    }
}

/* Panels of a right operand stored n x k (k contiguous, a linear's weight): column n's pairs are
   neighbours in its stored row, so each row is converted as the left operand is, then spread
   into its lane of the panel. */
CK_BF16 static void pack_right_columns(const float *b, long ldb, int depth, int width, uint32_t *to,
                                       uint16_t *row_scratch) {
    int pairs = (depth + 1) / 2;
    for (int first = 0; first < width; first += NR) {
        uint32_t *panel = to + (long)(first / NR) * pairs * NR;
        int columns = min_int(NR, width - first);
        for (int lane = 0; lane < NR; lane++) {
            if (lane < columns) {
                convert_left(b + (long)(first + lane) * ldb, ldb, 1, depth, 2 * pairs, row_scratch);
                const uint32_t *words = (const uint32_t *)row_scratch;
                for (int p = 0; p < pairs; p++) panel[p * NR + lane] = words[p];
            } else {
                for (int p = 0; p < pairs; p++) panel[p * NR + lane] = 0;
            }
        }
    }
}

/* c[rows x columns] = alpha * (left rows @ panel) + beta * c over `pairs` steps of k (c is not
   read where beta is 0); row r's pairs start at left + r * KC. `rows` is a constant at every
   call (see `tile`), so the accumulators stay in registers, and the fixed row pitch lets every
   broadcast address one base register. */
static inline __attribute__((always_inline)) CK_BF16 void
micro_tile(int rows, const uint16_t *left, const uint32_t *panel, int pairs, float *c, long ldc, int columns,
           float alpha, float beta) {
    __m256 acc[MR][NR_VECTORS];
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < NR_VECTORS; v++) acc[r][v] = _mm256_setzero_ps();
    const uint32_t *row_pairs = (const uint32_t *)left;
    enum { row_step = KC / 2 };
    for (int p = 0; p < pairs; p++) {
        __m256bh right[NR_VECTORS];
        for (int v = 0; v < NR_VECTORS; v++)
            right[v] = (__m256bh)_mm256_loadu_si256((const __m256i *)(panel + p * NR + 8 * v));
        for (int r = 0; r < rows; r++) {
            __m256bh pair = (__m256bh)_mm256_set1_epi32((int)row_pairs[r * row_step + p]);
            for (int v = 0; v < NR_VECTORS; v++) acc[r][v] = _mm256_dpbf16_ps(acc[r][v], pair, right[v]);
        }
    }
    __m256 scale = _mm256_set1_ps(alpha), keep = _mm256_set1_ps(beta);
    for (int r = 0; r < rows; r++) {
        float *out = c + r * ldc;
        for (int v = 0; v < NR_VECTORS; v++) {
            __mmask8 mask = (__mmask8)first_lanes16(min_int(8, columns - 8 * v));
            __m256 value = _mm256_mul_ps(acc[r][v], scale);
            if (beta != 0) value = _mm256_fmadd_ps(_mm256_maskz_loadu_ps(mask, out + 8 * v), keep, value);
            _mm256_mask_storeu_ps(out + 8 * v, mask, value);
        }
    }
}

#define CK_TILE_ROWS(ROWS) \
    case ROWS: micro_tile(ROWS, left, panel, pairs, c, ldc, columns, alpha, beta); break;

CK_BF16 static void tile(int rows, const uint16_t *left, const uint32_t *panel, int pairs, float *c, long ldc,
                         int columns, float alpha, float beta) {
    switch (rows) {
        CK_TILE_ROWS(1) CK_TILE_ROWS(2) CK_TILE_ROWS(3) CK_TILE_ROWS(4)
        CK_TILE_ROWS(5) CK_TILE_ROWS(6) CK_TILE_ROWS(7) CK_TILE_ROWS(8)
        default: break;
    }
}

/* Each thread keeps its packing buffers between products (a UNet evaluation runs thousands):
   freshly mapped ones would fault in every page on every call. */
static _Thread_local void *thread_scratch;

enum {
    PACKED_RIGHT_WORDS = (NC / NR) * (KC / 2) * NR,
    SCRATCH_BYTES = PACKED_RIGHT_WORDS * 4 + MC * KC * 2 + KC * 2,
};

CK_BF16 void ck_gemm_bf16(int transpose_b, int m, int n, int k, float alpha, const float *a, long lda,
                          const float *b, long ldb, float beta, float *c, long ldc) {
    if (!thread_scratch && posix_memalign(&thread_scratch, 64, SCRATCH_BYTES) != 0) abort();
    uint32_t *packed_right = thread_scratch;
    uint16_t *packed_left = (uint16_t *)(packed_right + PACKED_RIGHT_WORDS);
    uint16_t *row_scratch = packed_left + MC * KC;
    for (int n0 = 0; n0 < n; n0 += NC) {
        int width = min_int(NC, n - n0);
        for (int k0 = 0; k0 < k; k0 += KC) {
            int depth = min_int(KC, k - k0);
            int pairs = (depth + 1) / 2;
            float block_beta = k0 == 0 ? beta : 1.0f;
            if (transpose_b)
                pack_right_columns(b + (long)n0 * ldb + k0, ldb, depth, width, packed_right, row_scratch);
            else
                pack_right_rows(b + (long)k0 * ldb + n0, ldb, depth, width, packed_right);
            for (int m0 = 0; m0 < m; m0 += MC) {
                int rows = min_int(MC, m - m0);
                convert_left(a + (long)m0 * lda + k0, lda, rows, depth, KC, packed_left);
                for (int first = 0; first < width; first += NR) {
                    const uint32_t *panel = packed_right + (long)(first / NR) * pairs * NR;
                    for (int r0 = 0; r0 < rows; r0 += MR)
                        tile(min_int(MR, rows - r0), packed_left + (long)r0 * KC, panel, pairs,
                             c + (long)(m0 + r0) * ldc + n0 + first, ldc, min_int(NR, width - first), alpha,
                             block_beta);
                }
            }
        }
    }
}
