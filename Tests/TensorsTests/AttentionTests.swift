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
}
