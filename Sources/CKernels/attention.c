#include "CKernels.h"
#include "half_pairs.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Every function that uses AVX-512 says so itself; the rest of the build targets baseline x86-64. */
#define CK_AVX512 __attribute__((target("avx512f,fma")))
#define CK_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma")))
#define CK_AVX512_F16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx512fp16,fma")))

enum {
    LANES = 16,
    /* Keys per pass of the running softmax: a block's scores (48 x 256 floats, 48 KB) and its
       packed keys and values (256 keys) stay in L2 while the block's three steps run. */
    KEY_BLOCK = 256,
    QUERY_BLOCK = CK_ATTENTION_QUERY_BLOCK,
    /* Query rows per score tile: 8 rows x 32 keys is 16 accumulators, fed by 2 key loads and
       8 broadcasts per step of the head width. */
    SCORE_ROWS = 8,
};

/* exp2(x) of scores at or below this is taken as 0: it is below 2^-100 of the row's largest
   term, and flushing it keeps the products with V clear of denormals. */
static const float flushBelow = -100.0f;

static int vectors_for(int head_width) { return (head_width + LANES - 1) / LANES; }

static int min_int(int a, int b) { return a < b ? a : b; }

int ck_attention_supports(int head_width, int precision) {
    if (head_width <= 0 || (precision != CK_ATTENTION_F32 && head_width % 2 != 0)) return 0;
    int vectors = vectors_for(head_width);
    return vectors == 3 || vectors == 4 || vectors == 5 || vectors == 10;
}

static int panels_for(int key_count) { return (key_count + LANES - 1) / LANES; }

/* bf16 and f16 halve every packed value: two neighbours along the reduced axis share one 32-bit
   word. */
static size_t element_bytes(int precision) { return precision == CK_ATTENTION_F32 ? 4 : 2; }

static size_t keys_bytes(int key_count, int head_width, int precision) {
    return (size_t)panels_for(key_count) * LANES * head_width * element_bytes(precision);
}

/* f16 keys and values are scaled by powers of two into f16's range (see pack_f16); the two
   scales follow the packed keys. */
typedef struct {
    float keys, values;
} head_scales;

static head_scales *scales_after_keys(const void *packed_keys, int key_count, int head_width) {
    return (head_scales *)((char *)packed_keys + keys_bytes(key_count, head_width, CK_ATTENTION_F16));
}

size_t ck_attention_packed_keys_bytes(int key_count, int head_width, int precision) {
    return keys_bytes(key_count, head_width, precision) + (precision == CK_ATTENTION_F16 ? sizeof(head_scales) : 0);
}

size_t ck_attention_packed_values_bytes(int key_count, int head_width, int precision) {
    return (size_t)panels_for(key_count) * LANES * vectors_for(head_width) * LANES * element_bytes(precision);
}

/* Staged queries, scores, output rows, per row the running maximum, sum and rescale, and the
   scores narrowed to bf16 (used by the bf16 kernel only). */
size_t ck_attention_scratch_count(int head_width) {
    return (size_t)QUERY_BLOCK * (head_width + KEY_BLOCK + vectors_for(head_width) * LANES + 3 + KEY_BLOCK / 2);
}

/* Keys go into panels of 16, each [head_width][16] (a score tile loads one key width-slice of
   16 keys per step); values into rows padded with zeros to whole vectors. Keys and values past
   key_count are zeros. */
static void pack_f32(const float *key, const float *value, int key_count, int row_stride, int head_width,
                     float *packed_keys, float *packed_values) {
    int panels = panels_for(key_count);
    int padded_width = vectors_for(head_width) * LANES;
    for (int panel = 0; panel < panels; panel++) {
        float *to = packed_keys + (size_t)panel * head_width * LANES;
        for (int lane = 0; lane < LANES; lane++) {
            int row = panel * LANES + lane;
            const float *from = key + (size_t)row * row_stride;
            for (int d = 0; d < head_width; d++) to[d * LANES + lane] = row < key_count ? from[d] : 0.0f;
        }
    }
    for (int row = 0; row < panels * LANES; row++) {
        float *to = packed_values + (size_t)row * padded_width;
        if (row < key_count) {
            memcpy(to, value + (size_t)row * row_stride, sizeof(float) * head_width);
            memset(to + head_width, 0, sizeof(float) * (padded_width - head_width));
        } else {
            memset(to, 0, sizeof(float) * padded_width);
        }
    }
}

/* `count` values times `scale`, rounded to bf16 or f16 (nearest even); nothing past
   `from + count` is read. */
CK_AVX512_BF16 static void narrow(const float *from, int count, float scale, int precision, uint16_t *to) {
    __m512 by = _mm512_set1_ps(scale);
    for (int j = 0; j < count; j += LANES) {
        int rest = min_int(LANES, count - j);
        __mmask16 lanes = rest == LANES ? 0xFFFF : (__mmask16)((1u << rest) - 1);
        __m512 values = _mm512_mul_ps(_mm512_maskz_loadu_ps(lanes, from + j), by);
        __m256i narrowed = precision == CK_ATTENTION_F16
                               ? _mm512_cvtps_ph(values, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
                               : (__m256i)_mm512_cvtneps_pbh(values);
        _mm256_mask_storeu_epi16(to + j, lanes, narrowed);
    }
}

/* The largest magnitude among `count` rows of `width` values, `stride` apart. */
CK_AVX512 static float largest_magnitude(const float *rows, int count, int stride, int width) {
    __m512 largest = _mm512_setzero_ps();
    for (int row = 0; row < count; row++)
        for (int d = 0; d < width; d += LANES) {
            int rest = min_int(LANES, width - d);
            __mmask16 lanes = rest == LANES ? 0xFFFF : (__mmask16)((1u << rest) - 1);
            largest = _mm512_max_ps(largest, _mm512_abs_ps(_mm512_maskz_loadu_ps(lanes, rows + (size_t)row * stride + d)));
        }
    return _mm512_reduce_max_ps(largest);
}

/* The scale of an f16 operand: its largest magnitude into [8, 16), so that a product of two is
   at most 256 and no lane's f16 sum (at most 80 of them for scores, 128 softmax weights of at
   most 1 for values) passes f16's largest value, 65504. */
static float f16_operand_scale(float largest) {
    return largest > 0 && largest <= 3.0e38f ? ck_power_of_two_scale(largest, 4) : 1;
}

/* The bf16 and f16 layouts pair neighbours along the axis each product reduces: a key panel is
   [head_width / 2][16] words (d pairs of 16 keys), a value row pair is [padded width] words
   (key pairs of each output column). Keys and values past key_count are zeros; they are
   multiplied by `scales` as they are rounded. */
CK_AVX512_BF16 static void pack_pairs(const float *key, const float *value, int key_count, int row_stride,
                                      int head_width, int precision, head_scales scales, uint32_t *packed_keys,
                                      uint32_t *packed_values) {
    int panels = panels_for(key_count);
    int pairs = head_width / 2;
    int padded_width = vectors_for(head_width) * LANES;
    uint16_t first[10 * LANES], second[10 * LANES];
    for (int panel = 0; panel < panels; panel++) {
        uint32_t *to = packed_keys + (size_t)panel * pairs * LANES;
        for (int lane = 0; lane < LANES; lane++) {
            int row = panel * LANES + lane;
            if (row < key_count) narrow(key + (size_t)row * row_stride, head_width, scales.keys, precision, first);
            const uint32_t *words = (const uint32_t *)first;
            for (int p = 0; p < pairs; p++) to[p * LANES + lane] = row < key_count ? words[p] : 0;
        }
    }
    for (int row = 0; row < panels * LANES; row += 2) {
        uint32_t *to = packed_values + (size_t)(row / 2) * padded_width;
        memset(first, 0, sizeof(first));
        memset(second, 0, sizeof(second));
        if (row < key_count) narrow(value + (size_t)row * row_stride, head_width, scales.values, precision, first);
        if (row + 1 < key_count)
            narrow(value + (size_t)(row + 1) * row_stride, head_width, scales.values, precision, second);
        for (int d = 0; d < padded_width; d++) to[d] = (uint32_t)first[d] | (uint32_t)second[d] << 16;
    }
}

void ck_attention_pack(const float *key, const float *value, int key_count, int row_stride, int head_width,
                       int precision, void *packed_keys, void *packed_values) {
    if (precision == CK_ATTENTION_F32) {
        pack_f32(key, value, key_count, row_stride, head_width, packed_keys, packed_values);
        return;
    }
    head_scales scales = {1, 1};
    if (precision == CK_ATTENTION_F16) {
        scales.keys = f16_operand_scale(largest_magnitude(key, key_count, row_stride, head_width));
        scales.values = f16_operand_scale(largest_magnitude(value, key_count, row_stride, head_width));
        *scales_after_keys(packed_keys, key_count, head_width) = scales;
    }
    pack_pairs(key, value, key_count, row_stride, head_width, precision, scales, packed_keys, packed_values);
}

/* Score tiles share one signature for block_scores: scores[8][16 * panels] (row pitch KEY_BLOCK)
   = queries[8] x `panels` neighbouring key panels, two at a time and one for a last, odd panel.
   `unscale` undoes the f16 operands' range scales (the f32 and bf16 operands are not scaled:
   their tiles ignore it, or multiply by 1). */
typedef void (*score_tile)(const void *queries, int head_width, const void *panel, float unscale, float *scores);

static inline __attribute__((always_inline)) CK_AVX512 void
f32_scores(int panels, const void *queries_, int head_width, const void *panel_, float unscale, float *scores) {
    const float *queries = queries_, *panel = panel_;
    __m512 sum[SCORE_ROWS][2];
    for (int i = 0; i < SCORE_ROWS; i++)
        for (int j = 0; j < panels; j++) sum[i][j] = _mm512_setzero_ps();
    for (int d = 0; d < head_width; d++) {
        __m512 k[2];
        for (int j = 0; j < panels; j++) k[j] = _mm512_loadu_ps(panel + ((size_t)j * head_width + d) * LANES);
        for (int i = 0; i < SCORE_ROWS; i++) {
            __m512 q = _mm512_set1_ps(queries[i * head_width + d]);
            for (int j = 0; j < panels; j++) sum[i][j] = _mm512_fmadd_ps(q, k[j], sum[i][j]);
        }
    }
    for (int i = 0; i < SCORE_ROWS; i++)
        for (int j = 0; j < panels; j++) _mm512_storeu_ps(scores + i * KEY_BLOCK + j * LANES, sum[i][j]);
}

/* The same over query and key pairs along the head, in bf16 (f32 sums) or f16 (each lane pair
   sums the even and the odd d apart, in f16, and the two are added in f32); half_pairs.h names
   each format's sum type, step and total. */
#define CK_PAIR_SCORES(FORMAT, TARGET)                                                                            \
    static inline __attribute__((always_inline)) TARGET void FORMAT##_scores(                                     \
        int panels, const void *queries, int head_width, const void *panel_, float unscale, float *scores) {      \
        const uint32_t *panel = panel_, *query_pairs = queries;                                                   \
        int pairs = head_width / 2;                                                                               \
        ck_pair_sum_##FORMAT sum[SCORE_ROWS][2];                                                                  \
        for (int i = 0; i < SCORE_ROWS; i++)                                                                      \
            for (int j = 0; j < panels; j++) sum[i][j] = ck_pair_zero_##FORMAT();                                 \
        for (int p = 0; p < pairs; p++) {                                                                         \
            __m512i k[2];                                                                                         \
            for (int j = 0; j < panels; j++) k[j] = _mm512_loadu_si512(panel + ((size_t)j * pairs + p) * LANES);  \
            for (int i = 0; i < SCORE_ROWS; i++) {                                                                \
                __m512i q = _mm512_set1_epi32((int)query_pairs[i * pairs + p]);                                   \
                for (int j = 0; j < panels; j++) sum[i][j] = ck_pair_step_##FORMAT(sum[i][j], q, k[j]);           \
            }                                                                                                     \
        }                                                                                                         \
        __m512 by = _mm512_set1_ps(unscale);                                                                      \
        for (int i = 0; i < SCORE_ROWS; i++)                                                                      \
            for (int j = 0; j < panels; j++)                                                                      \
                _mm512_storeu_ps(scores + i * KEY_BLOCK + j * LANES,                                              \
                                 _mm512_mul_ps(by, ck_pair_total_##FORMAT(sum[i][j])));                           \
    }

CK_PAIR_SCORES(bf16, CK_AVX512_BF16)
CK_PAIR_SCORES(f16, CK_AVX512_F16)

/* Each format's two tiles, with `panels` a constant so that the accumulators stay in registers. */
#define CK_SCORE_TILES(FORMAT, TARGET)                                                                          \
    TARGET static void FORMAT##_scores_8x32(const void *queries, int head_width, const void *panel, float unscale, \
                                            float *scores) {                                                    \
        FORMAT##_scores(2, queries, head_width, panel, unscale, scores);                                        \
    }                                                                                                           \
    TARGET static void FORMAT##_scores_8x16(const void *queries, int head_width, const void *panel, float unscale, \
                                            float *scores) {                                                    \
        FORMAT##_scores(1, queries, head_width, panel, unscale, scores);                                        \
    }

CK_SCORE_TILES(f32, CK_AVX512)
CK_SCORE_TILES(bf16, CK_AVX512_BF16)
CK_SCORE_TILES(f16, CK_AVX512_F16)

/* 2^x for x <= 0: round to the nearest integer n, 2^(x - n) from the degree-6 fit on
   [-0.5, 0.5] that Tensors' vectorExp2OfNonPositive uses (9.6e-8 relative), scaled by 2^n. */
CK_AVX512 static __m512 exp2_nonpositive(__m512 x) {
    __mmask16 kept = _mm512_cmp_ps_mask(x, _mm512_set1_ps(flushBelow), _CMP_GT_OQ);
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_fmadd_ps(f, _mm512_set1_ps(1.5345770e-4f), _mm512_set1_ps(1.3399931e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6184891e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5503286e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022646e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_maskz_scalef_ps(kept, p, n);
}

CK_AVX512 static float row_maximum(const float *row, int count) {
    __m512 maximum = _mm512_loadu_ps(row);
    for (int j = LANES; j < count; j += LANES) maximum = _mm512_max_ps(maximum, _mm512_loadu_ps(row + j));
    return _mm512_reduce_max_ps(maximum);
}

/* row[j] = 2^(row[j] - shift) in place; returns their sum. */
CK_AVX512 static float exponentiate_row(float *row, int count, float shift) {
    __m512 by = _mm512_set1_ps(shift);
    __m512 sum = _mm512_setzero_ps();
    for (int j = 0; j < count; j += LANES) {
        __m512 e = exp2_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(row + j), by));
        _mm512_storeu_ps(row + j, e);
        sum = _mm512_add_ps(sum, e);
    }
    return _mm512_reduce_add_ps(sum);
}

/* A value tile: out[R][16 NV] = rescale[i] * out[i] + weights[R][...] x values[...][16 NV] over
   `steps` steps (keys in f32, key pairs in bf16), the whole R x NV tile of output in registers
   over the key block. Weights rows are KEY_BLOCK values apart in either precision. */
typedef void (*value_tile)(const void *weights, const void *values, int steps, float *out, const float *rescale);

#define TILE_LOAD_RESCALED(R, NV)                                                                               \
    __m512 sum[R][NV];                                                                                          \
    for (int i = 0; i < R; i++) {                                                                               \
        __m512 by = _mm512_set1_ps(rescale[i]);                                                                 \
        for (int c = 0; c < NV; c++) sum[i][c] = _mm512_mul_ps(by, _mm512_loadu_ps(out + i * NV * LANES + c * LANES)); \
    }

#define TILE_STORE(R, NV)                                                                                       \
    for (int i = 0; i < R; i++)                                                                                 \
        for (int c = 0; c < NV; c++) _mm512_storeu_ps(out + i * NV * LANES + c * LANES, sum[i][c]);

/* f32: weights [R][keys], values [keys][16 NV]. */
#define VALUE_TILE(R, NV)                                                                                       \
    CK_AVX512 static void values_##R##x##NV(const void *weights_, const void *values_, int keys, float *out,   \
                                            const float *rescale) {                                           \
        const float *weights = weights_, *values = values_;                                                   \
        TILE_LOAD_RESCALED(R, NV)                                                                             \
        for (int j = 0; j < keys; j++) {                                                                      \
            __m512 v[NV];                                                                                     \
            for (int c = 0; c < NV; c++) v[c] = _mm512_loadu_ps(values + (size_t)j * NV * LANES + c * LANES);  \
            for (int i = 0; i < R; i++) {                                                                     \
                __m512 w = _mm512_set1_ps(weights[i * KEY_BLOCK + j]);                                        \
                for (int c = 0; c < NV; c++) sum[i][c] = _mm512_fmadd_ps(w, v[c], sum[i][c]);                 \
            }                                                                                                 \
        }                                                                                                     \
        TILE_STORE(R, NV)                                                                                     \
    }

/* bf16: weight pairs [R][keys / 2] words, value row pairs [keys / 2][16 NV] words. */
#define VALUE_TILE_BF16(R, NV)                                                                                  \
    CK_AVX512_BF16 static void values_bf16_##R##x##NV(const void *weights, const void *values_, int pairs,     \
                                                      float *out, const float *rescale) {                     \
        const uint32_t *weight_pairs = weights, *values = values_;                                            \
        TILE_LOAD_RESCALED(R, NV)                                                                             \
        for (int p = 0; p < pairs; p++) {                                                                     \
            __m512bh v[NV];                                                                                   \
            for (int c = 0; c < NV; c++)                                                                      \
                v[c] = (__m512bh)_mm512_loadu_si512(values + (size_t)p * NV * LANES + c * LANES);             \
            for (int i = 0; i < R; i++) {                                                                     \
                __m512bh w = (__m512bh)_mm512_set1_epi32((int)weight_pairs[i * (KEY_BLOCK / 2) + p]);         \
                for (int c = 0; c < NV; c++) sum[i][c] = _mm512_dpbf16_ps(sum[i][c], w, v[c]);                \
            }                                                                                                 \
        }                                                                                                     \
        TILE_STORE(R, NV)                                                                                     \
    }

/* f16: as bf16, with sums in f16 registers over runs of VALUE_RUN key pairs, each run added to
   the f32 rows (rescaled before the first). The softmax weights are all positive, so a run's sum
   grows with its length and so does its rounding: 32 pairs keep it near f16's own rounding. */
enum { VALUE_RUN = 32 };

#define VALUE_TILE_F16(R, NV)                                                                                   \
    CK_AVX512_F16 static void values_f16_##R##x##NV(const void *weights, const void *values_, int pairs,       \
                                                    float *out, const float *rescale) {                       \
        const uint32_t *weight_pairs = weights, *values = values_;                                            \
        for (int first = 0; first < pairs; first += VALUE_RUN) {                                              \
            __m512h sum[R][NV];                                                                               \
            for (int i = 0; i < R; i++)                                                                       \
                for (int c = 0; c < NV; c++) sum[i][c] = _mm512_setzero_ph();                                 \
            for (int p = first; p < min_int(pairs, first + VALUE_RUN); p++) {                                 \
                __m512h v[NV];                                                                                \
                for (int c = 0; c < NV; c++)                                                                  \
                    v[c] = _mm512_castsi512_ph(_mm512_loadu_si512(values + (size_t)p * NV * LANES + c * LANES)); \
                for (int i = 0; i < R; i++) {                                                                 \
                    __m512h w = _mm512_castsi512_ph(_mm512_set1_epi32((int)weight_pairs[i * (KEY_BLOCK / 2) + p])); \
                    for (int c = 0; c < NV; c++) sum[i][c] = _mm512_fmadd_ph(w, v[c], sum[i][c]);            \
                }                                                                                             \
            }                                                                                                 \
            for (int i = 0; i < R; i++) {                                                                     \
                __m512 by = _mm512_set1_ps(first == 0 ? rescale[i] : 1.0f);                                   \
                for (int c = 0; c < NV; c++) {                                                                \
                    float *row = out + i * NV * LANES + c * LANES;                                            \
                    _mm512_storeu_ps(row, _mm512_fmadd_ps(by, _mm512_loadu_ps(row), ck_pair_sums_f16(sum[i][c]))); \
                }                                                                                             \
            }                                                                                                 \
        }                                                                                                     \
    }

/* Rows x vectors: up to 24 accumulators, leaving registers for NV values and a broadcast. */
VALUE_TILE(8, 3)
VALUE_TILE(6, 4)
VALUE_TILE(4, 5)
VALUE_TILE(2, 10)
VALUE_TILE_BF16(8, 3)
VALUE_TILE_BF16(6, 4)
VALUE_TILE_BF16(4, 5)
VALUE_TILE_BF16(2, 10)
VALUE_TILE_F16(8, 3)
VALUE_TILE_F16(6, 4)
VALUE_TILE_F16(4, 5)
VALUE_TILE_F16(2, 10)

/* out rows (QUERY_BLOCK, padded) += weights x values for one key block, per head width: f32
   weights are the scores row by row, bf16 ones their narrowed copy. */
static void accumulate_values(int vectors, int precision, const void *weights, const void *values, int keys,
                              float *out, const float *rescale) {
    static const value_tile tiles[3][4] = {
        [CK_ATTENTION_F32] = {values_8x3, values_6x4, values_4x5, values_2x10},
        [CK_ATTENTION_BF16] = {values_bf16_8x3, values_bf16_6x4, values_bf16_4x5, values_bf16_2x10},
        [CK_ATTENTION_F16] = {values_f16_8x3, values_f16_6x4, values_f16_4x5, values_f16_2x10},
    };
    static const int tile_rows[4] = {8, 6, 4, 2};
    int shape = vectors == 3 ? 0 : vectors == 4 ? 1 : vectors == 5 ? 2 : 3;
    int rows = tile_rows[shape];
    value_tile tile = tiles[precision][shape];
    int steps = precision == CK_ATTENTION_F32 ? keys : (keys + 1) / 2;
    size_t weight_pitch = (size_t)KEY_BLOCK * element_bytes(precision);
    for (int r = 0; r < QUERY_BLOCK; r += rows)
        tile((const char *)weights + r * weight_pitch, values, steps, out + r * vectors * LANES, rescale + r);
}

/* Queries first ..< first + count, scaled, into `queries` ([QUERY_BLOCK][head_width], f32, bf16
   or f16); rows past count are zeros. f16 queries are scaled further by a power of two into
   f16's range, which is returned (1 otherwise). */
CK_AVX512_BF16 static float stage_paired_queries(const float *query, int row_stride, int head_width, int count,
                                                 float scale, int precision, uint16_t *queries) {
    float range = precision == CK_ATTENTION_F16
                      ? f16_operand_scale(largest_magnitude(query, count, row_stride, head_width) * scale)
                      : 1;
    float row[10 * LANES];
    for (int r = 0; r < QUERY_BLOCK; r++) {
        for (int d = 0; d < head_width; d++) row[d] = r < count ? query[(size_t)r * row_stride + d] * scale : 0.0f;
        narrow(row, head_width, range, precision, queries + r * head_width);
    }
    return range;
}

static float stage_queries(const float *query, int row_stride, int head_width, int count, float scale, int precision,
                           float *queries) {
    if (precision != CK_ATTENTION_F32)
        return stage_paired_queries(query, row_stride, head_width, count, scale, precision, (uint16_t *)queries);
    for (int r = 0; r < QUERY_BLOCK; r++) {
        const float *from = query + (size_t)r * row_stride;
        for (int d = 0; d < head_width; d++) queries[r * head_width + d] = r < count ? from[d] * scale : 0.0f;
    }
    return 1;
}

/* scores[QUERY_BLOCK][KEY_BLOCK] for one key block of `panels` panels; f16 scores are multiplied
   by `unscale`, undoing the queries' and keys' range scales. */
CK_AVX512 static void block_scores(const float *queries, int head_width, const void *block_keys, int panels,
                                   int precision, float unscale, float *scores) {
    static const score_tile pairs_of_panels[3] = {
        [CK_ATTENTION_F32] = f32_scores_8x32, [CK_ATTENTION_BF16] = bf16_scores_8x32, [CK_ATTENTION_F16] = f16_scores_8x32};
    static const score_tile last_panels[3] = {
        [CK_ATTENTION_F32] = f32_scores_8x16, [CK_ATTENTION_BF16] = bf16_scores_8x16, [CK_ATTENTION_F16] = f16_scores_8x16};
    size_t bytes = element_bytes(precision), panel_bytes = (size_t)head_width * LANES * bytes;
    const char *keys = block_keys;
    for (int r = 0; r < QUERY_BLOCK; r += SCORE_ROWS) {
        const char *rows = (const char *)queries + r * head_width * bytes;
        float *tile = scores + r * KEY_BLOCK;
        int panel = 0;
        for (; panel + 2 <= panels; panel += 2)
            pairs_of_panels[precision](rows, head_width, keys + panel * panel_bytes, unscale, tile + panel * LANES);
        if (panel < panels) last_panels[precision](rows, head_width, keys + panel * panel_bytes, unscale, tile + panel * LANES);
    }
}

/* One block of queries over every key block: scores, running softmax, products with V. Rows
   past query_count are zeros and computed but not stored. Under bf16 the queries, keys,
   values and softmax weights are rounded to bf16; scores, the softmax and every sum stay f32.
   Under f16 they are rounded to f16 (queries, keys and values scaled into its range first), and
   the products' sums are f16 within a score (the head width) or a key block, f32 beyond. */
CK_AVX512 static void query_block(const float *query, int query_count, int row_stride, int head_width,
                                  const void *packed_keys, const void *packed_values, int key_count, float scale,
                                  int precision, int block, float *out, float *scratch) {
    int vectors = vectors_for(head_width);
    int pitch = vectors * LANES;
    float *queries = scratch;
    float *scores = queries + QUERY_BLOCK * head_width;
    float *rows = scores + QUERY_BLOCK * KEY_BLOCK;
    float *maxima = rows + QUERY_BLOCK * pitch;
    float *sums = maxima + QUERY_BLOCK;
    float *rescale = sums + QUERY_BLOCK;
    uint16_t *narrowed = (uint16_t *)(rescale + QUERY_BLOCK);
    int first = block * QUERY_BLOCK;
    int count = min_int(QUERY_BLOCK, query_count - first);
    float query_range =
        stage_queries(query + (size_t)first * row_stride, row_stride, head_width, count, scale, precision, queries);
    head_scales ranges = precision == CK_ATTENTION_F16 ? *scales_after_keys(packed_keys, key_count, head_width)
                                                       : (head_scales){1, 1};
    float unscale = 1.0f / (query_range * ranges.keys);
    for (int r = 0; r < QUERY_BLOCK; r++) {
        maxima[r] = -INFINITY;
        sums[r] = 0;
    }
    memset(rows, 0, sizeof(float) * QUERY_BLOCK * pitch);
    int paired = precision != CK_ATTENTION_F32;
    for (int first_key = 0; first_key < key_count; first_key += KEY_BLOCK) {
        int keys = min_int(KEY_BLOCK, key_count - first_key);
        int panels = panels_for(keys);
        int width = panels * LANES;
        size_t key_offset = (size_t)first_key * head_width * element_bytes(precision);
        size_t value_offset = (size_t)first_key * pitch * element_bytes(precision);
        block_scores(queries, head_width, (const char *)packed_keys + key_offset, panels, precision, unscale, scores);
        for (int r = 0; r < QUERY_BLOCK; r++) {
            float *row = scores + r * KEY_BLOCK;
            for (int j = keys; j < width; j++) row[j] = -INFINITY;
            float maximum = fmaxf(maxima[r], row_maximum(row, width));
            float shift = maxima[r] - maximum;
            rescale[r] = shift > flushBelow ? exp2f(shift) : 0.0f;
            sums[r] = sums[r] * rescale[r] + exponentiate_row(row, width, maximum);
            maxima[r] = maximum;
            if (paired) narrow(row, width, 1, precision, narrowed + r * KEY_BLOCK);
        }
        const void *block_values = (const char *)packed_values + value_offset;
        accumulate_values(vectors, precision, paired ? (const void *)narrowed : scores, block_values, keys, rows, rescale);
    }
    for (int r = 0; r < count; r++) {
        float *to = out + (size_t)(first + r) * row_stride;
        float normaliser = 1.0f / (sums[r] * ranges.values);
        for (int d = 0; d < head_width; d++) to[d] = rows[r * pitch + d] * normaliser;
    }
}

void ck_attention_query_blocks(const float *query, int query_count, int row_stride, int head_width,
                               const void *packed_keys, const void *packed_values, int key_count, float scale,
                               int precision, int first_block, int block_count, float *out, float *scratch) {
    for (int block = first_block; block < first_block + block_count; block++)
        query_block(query, query_count, row_stride, head_width, packed_keys, packed_values, key_count, scale,
                    precision, block, out, scratch);
}
