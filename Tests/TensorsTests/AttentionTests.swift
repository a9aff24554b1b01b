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
        #expect(AttentionKernel.preferred(headWidth: headWidth) == .fused(.f32))
        let fused = attention(query, key, value, heads: heads, kernel: .fused(.f32))
        let products = GEMMBackend.withBackend(.oneDNN) {
            attention(query, key, value, heads: heads, kernel: .blockedProducts)
        }
        expectClose(fused, products, relative: 1e-5, absolute: 2e-6)
    }

    /// The bf16 and f16 fused kernels, chosen under their backends, against f32 on the same cases:
    /// their operands are rounded (8 significant bits in bf16, 11 in f16), so each lands within a
    /// rounding of the f32 result, and not on it. f16 sums its products in f16 over short runs,
    /// which costs about what its finer rounding saves: both land near 0.3% of the peak.
    @Test(arguments: GEMMBackend.reducedCases, [40, 64, 80, 160])
    func reducedFusedKernelStaysWithinRoundingOfF32(backend: GEMMBackend, headWidth: Int) throws {
        let arithmetic = try #require(AttentionArithmetic(reducing: backend))
        for lengths in [(1, 77), (77, 154), (100, 300), (49, 1)] {
            let (query, key, value, heads) = fusedCase(headWidth: headWidth, lengths: lengths)
            let reduced = GEMMBackend.withBackend(backend) {
                #expect(AttentionKernel.preferred(headWidth: headWidth) == .fused(arithmetic))
                return attention(query, key, value, heads: heads)
            }
            let f32 = attention(query, key, value, heads: heads, kernel: .fused(.f32))
            let error = maxErrorRelativeToPeak(reduced, f32)
            #expect(error < (backend == .f16 ? 0.005 : 0.02), "\(lengths): \(error)")
            #expect(error > 1e-5)
        }
    }

    /// Keys and values far outside f16's range (10^5, and 10^-6 below its normal range) are
    /// scaled into it: the result keeps f16's precision instead of overflowing or vanishing.
    @Test(.enabled(if: GEMMBackend.cpuHasAVX512FP16, "the f16 kernel needs avx512_fp16"),
          arguments: [Float(1e5), Float(1e-6)])
    func f16FusedKernelScalesOperandsIntoItsRange(magnitude: Float) {
        let (query, key, value, heads) = fusedCase(headWidth: 64, lengths: (100, 300))
        let (wideQuery, wideKey) = (query * (1 / magnitude), key * magnitude)
        let wideValue = value * magnitude
        let reduced = GEMMBackend.withBackend(.f16) { attention(wideQuery, wideKey, wideValue, heads: heads) }
        let f32 = attention(wideQuery, wideKey, wideValue, heads: heads, kernel: .fused(.f32))
        #expect(reduced.scalars.allSatisfy { $0.isFinite })
        #expect(maxErrorRelativeToPeak(reduced, f32) < 0.005)
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
            #expect(AttentionKernel.preferred(headWidth: 41) == .fused(.f32))
            #expect(AttentionKernel.preferred(headWidth: 8) == .blockedProducts)
        }
    }

    @Test(.enabled(if: GEMMBackend.cpuHasAVX512FP16, "the f16 kernel needs avx512_fp16"))
    func oddHeadWidthsStayF32UnderF16() {
        GEMMBackend.withBackend(.f16) {
            #expect(AttentionKernel.preferred(headWidth: 41) == .fused(.f32))
        }
    }

    @Test func headWidthsWithoutAMicrokernelTakeTheProducts() {
        #expect(AttentionKernel.preferred(headWidth: 8) == .blockedProducts)
        #expect(AttentionKernel.preferred(headWidth: 512) == .blockedProducts)
    }
}
