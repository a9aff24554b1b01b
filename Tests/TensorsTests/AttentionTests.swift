import OverpaintTestSupport
import Testing
@testable import Tensors

@Suite struct AttentionTests {
    // sdpa(q, k, v, heads) = F.scaled_dot_product_attention on q.view(B, L, H, D).transpose(1, 2), back to [B, L, H*D]
    @Test(arguments: [1, 16, 37, 256], GEMMBackend.float32Cases)
    func selfAttentionMatchesTorchForAnyChunk(queryChunk: Int, backend: GEMMBackend) throws {
        // q, k, v [2, 37, 32], heads 4: chunks of 16 leave a last chunk of 5 rows
        let out = try GEMMBackend.withBackend(backend) {
            attention(try OpFixtures.tensor("attention_self.q"), try OpFixtures.tensor("attention_self.k"),
                      try OpFixtures.tensor("attention_self.v"), heads: 4, queryChunk: queryChunk)
        }
        expectClose(out, try OpFixtures.tensor("attention_self.out"))
    }

    // Blocks of keys with a running softmax: a later block's larger score rescales the rows
    // accumulated so far, and 37 keys leave a short last block.
    @Test(arguments: [1, 5, 16, 36], GEMMBackend.float32Cases)
    func selfAttentionMatchesTorchForAnyKeyBlock(keyBlock: Int, backend: GEMMBackend) throws {
        let out = try GEMMBackend.withBackend(backend) {
            attention(try OpFixtures.tensor("attention_self.q"), try OpFixtures.tensor("attention_self.k"),
                      try OpFixtures.tensor("attention_self.v"), heads: 4, queryChunk: 16, keyBlock: keyBlock)
        }
        expectClose(out, try OpFixtures.tensor("attention_self.out"))
    }

    @Test(arguments: [3, 1024], GEMMBackend.float32Cases)
    func crossAttentionMatchesTorch(keyBlock: Int, backend: GEMMBackend) throws {
        // q [2, 37, 32], k = randn(2, 11, 32) * 3, v [2, 11, 32], heads 2
        let out = try GEMMBackend.withBackend(backend) {
            attention(try OpFixtures.tensor("attention_cross.q"), try OpFixtures.tensor("attention_cross.k"),
                      try OpFixtures.tensor("attention_cross.v"), heads: 2, queryChunk: 8, keyBlock: keyBlock)
        }
        expectClose(out, try OpFixtures.tensor("attention_cross.out"))
    }

    /// The fused kernel against the two-product path, at every head width it has a microkernel
    /// for: one query, a ragged last query block (77, 100), cross-attention over 77 and 154 tokens,
    /// and 300 keys (a second, short key block). Keys are scaled by 4 so that later key blocks
    /// hold larger scores and rescale the rows already accumulated.
    @Test(.enabled(if: GEMMBackend.cpuHasAVX512, "the fused kernel needs AVX-512"),
          arguments: [40, 64, 80, 160], [(1, 77), (77, 154), (100, 300), (49, 1)])
    func fusedKernelMatchesTheBlockedProducts(headWidth: Int, lengths: (queries: Int, keys: Int)) {
        let (query, key, value, heads) = fusedCase(headWidth: headWidth, lengths: lengths)
        #expect(AttentionKernel.preferred(headWidth: headWidth) == .fused(bf16: false))
        let fused = attention(query, key, value, heads: heads, kernel: .fused(bf16: false))
        let products = GEMMBackend.withBackend(.oneDNN) {
            attention(query, key, value, heads: heads, kernel: .blockedProducts)
        }
        expectClose(fused, products, relative: 1e-5, absolute: 2e-6)
    }

    /// The bf16 fused kernel, chosen under the bf16 backend, against f32 on the same cases: its
    /// operands are rounded to bf16 (8 significant bits), so it lands within a bf16 rounding of
    /// the f32 result, and not on it.
    @Test(.enabled(if: GEMMBackend.cpuHasAVX512BF16, "the bf16 kernel needs avx512_bf16"),
          arguments: [40, 64, 80, 160], [(1, 77), (77, 154), (100, 300), (49, 1)])
    func bf16FusedKernelStaysWithinRoundingOfF32(headWidth: Int, lengths: (queries: Int, keys: Int)) {
        let (query, key, value, heads) = fusedCase(headWidth: headWidth, lengths: lengths)
        let bf16 = GEMMBackend.withBackend(.bf16) {
            #expect(AttentionKernel.preferred(headWidth: headWidth) == .fused(bf16: true))
            return attention(query, key, value, heads: heads)
        }
        let f32 = attention(query, key, value, heads: heads, kernel: .fused(bf16: false))
        let error = maxErrorRelativeToPeak(bf16, f32)
        #expect(error < 0.02)
        #expect(error > 1e-5)
    }

    /// Two heads of `headWidth`, batch 2; keys scaled by 4 so that later key blocks hold larger
    /// scores and rescale the rows already accumulated.
    private func fusedCase(headWidth: Int, lengths: (queries: Int, keys: Int))
        -> (query: Tensor, key: Tensor, value: Tensor, heads: Int) {
        let heads = 2
        return (TensorBenchmarks.filled([2, lengths.queries, heads * headWidth]),
                TensorBenchmarks.filled([2, lengths.keys, heads * headWidth], scale: 4),
                TensorBenchmarks.filled([2, lengths.keys, heads * headWidth]) + 0.25, heads)
    }

    @Test(.enabled(if: GEMMBackend.cpuHasAVX512BF16, "the bf16 kernel needs avx512_bf16"))
    func oddHeadWidthsStayF32UnderBF16() {
        GEMMBackend.withBackend(.bf16) {
            #expect(AttentionKernel.preferred(headWidth: 41) == .fused(bf16: false))
            #expect(AttentionKernel.preferred(headWidth: 8) == .blockedProducts)
        }
    }

    /// The kernel has no f16 form: under f16 products attention runs the f32 kernel.
    @Test(.enabled(if: GEMMBackend.cpuHasAVX512FP16, "the f16 backend needs avx512_fp16"))
    func attentionStaysF32UnderF16() {
        GEMMBackend.withBackend(.f16) {
            #expect(AttentionKernel.preferred(headWidth: 40) == .fused(bf16: false))
        }
    }

    @Test func headWidthsWithoutAMicrokernelTakeTheProducts() {
        #expect(AttentionKernel.preferred(headWidth: 8) == .blockedProducts)
        #expect(AttentionKernel.preferred(headWidth: 512) == .blockedProducts)
    }
}
