#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>

/* Kernels Swift cannot express: AVX-512 code compiled with per-function target attributes, so
   the library builds for any x86-64 and the caller picks these only where the CPU runs them
   (Tensors asks oneDNN for the effective ISA). */

/* Fused attention, one head at a time: the keys and values of the head are packed once with
   ck_attention_pack, then each block of CK_ATTENTION_QUERY_BLOCK queries runs Q K^T, the running
   softmax and the product with V in one pass over the packed keys, its scores and output rows
   staying in cache. Head widths whose padded width is 48, 64, 80 or 160 floats (40, 64, 80 and
   160 in Stable Diffusion) are supported. */

enum { CK_ATTENTION_QUERY_BLOCK = 48 };

/* The products' arithmetic: f32; bf16 (avx512_bf16; queries, keys, values and softmax weights
   rounded to bf16 to nearest even, every sum in f32); or f16 (avx512_fp16: the same rounded to
   f16 after scaling by powers of two into its range, sums in f16 within a score or a block of
   256 keys and in f32 beyond). */
enum { CK_ATTENTION_F32 = 0, CK_ATTENTION_BF16 = 1, CK_ATTENTION_F16 = 2 };

/* Whether the kernel has a microkernel for heads `head_width` wide (bf16 and f16 pair
   neighbouring values along the head, so they take even widths only). */
int ck_attention_supports(int head_width, int precision);

/* Bytes of packed keys and of packed values for `key_count` keys. */
size_t ck_attention_packed_keys_bytes(int key_count, int head_width, int precision);
size_t ck_attention_packed_values_bytes(int key_count, int head_width, int precision);

/* Floats of scratch one thread needs for ck_attention_query_blocks. */
size_t ck_attention_scratch_count(int head_width);

/* Packs one head: key row j is key[j * row_stride ..< + head_width], as is value row j. */
void ck_attention_pack(const float *key, const float *value, int key_count, int row_stride, int head_width,
                       int precision, void *packed_keys, void *packed_values);

/* Query blocks first_block ..< first_block + block_count of one head: query row i is
   query[i * row_stride ..< + head_width] (query_count rows), output row i goes to
   out[i * row_stride ..< + head_width]. `scale` multiplies the scores before the softmax. */
void ck_attention_query_blocks(const float *query, int query_count, int row_stride, int head_width,
                               const void *packed_keys, const void *packed_values, int key_count, float scale,
                               int precision, int first_block, int block_count, float *out, float *scratch);

/* Whether the CPU converts between f32 and f16 in hardware (F16C, every AVX2 CPU has it). */
int ck_cpu_has_f16c(void);

/* f32 values as f16 bit patterns, rounded to nearest even (needs F16C). */
void ck_narrow_f16(const float *source, unsigned short *destination, size_t count);

/* f16 bit patterns (unaligned) as f32, with AVX-512's conversion instruction. */
void ck_widen_f16(const void *source, float *destination, size_t count);

/* Whether the CPU has avx512_fp16 (f16 arithmetic) and the OS keeps AVX-512 state. */
int ck_cpu_has_avx512_fp16(void);

/* The 16-bit formats of ck_gemm_half's arithmetic. */
enum { CK_HALF_BF16 = 0, CK_HALF_F16 = 1 };

/* How ck_gemm_half's operands are stored: f32, or f16 / bf16 bit patterns (a checkpoint's
   weights as they are, which are then read at half the bytes and never widened in memory). */
enum { CK_VALUES_F32 = 0, CK_VALUES_F16 = 1, CK_VALUES_BF16 = 2 };

/* c[m x n] = alpha * a @ op(b) + beta * c with both operands rounded to 16 bits (nearest even) as
   they are packed: a is m x k row-major (lda), b is k x n (ldb), or n x k when transpose_b, each
   stored as its CK_VALUES_* type says (strides in values); c is not read where beta is 0.
   - CK_HALF_BF16 (needs avx512_bf16): bf16 operands, every sum f32.
   - CK_HALF_F16 (needs avx512_fp16 and avx512_bf16): f16 operands, each block of operands scaled
     by a power of two into f16's range, sums f16 over 128 values of k per lane and f32 beyond.
   Single-threaded; each calling thread keeps about 0.5 MB of packing buffers for its lifetime. */
void ck_gemm_half(int precision, int transpose_b, int m, int n, int k, float alpha, const void *a, int a_type,
                  long lda, const void *b, int b_type, long ldb, float beta, float *c, long ldc);

#endif
