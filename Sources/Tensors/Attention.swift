import CKernels
import Foundation

/// Scaled dot-product attention over heads packed in the last axis, as diffusers'
/// `AttnProcessor2_0` sees them (before `head_to_batch_dim`): softmax(q k^T / sqrt(D)) v per head.
///
/// Where the CPU has AVX-512 and the head width has a microkernel (40, 64, 80, 160), the fused
/// kernel of `CKernels` runs (see `AttentionKernel.fused`); otherwise, two products per block:
/// query rows go in chunks of `queryChunk` and keys in blocks of `keyBlock` with a running
/// softmax, so only a `queryChunk x keyBlock` block of scores exists per thread (1 MB; whole
/// rows of keys are 4 MB per chunk at 4096 tokens and 64 MB at 2048x2048's 65,536). Against
/// whole rows of 4096 keys the blocks ran 5% faster (2 threads, AVX2).
/// Heads are read in place through BLAS leading dimensions; no head is ever copied out. The
/// softmax normalisation is applied to the `D`-wide output rows instead of the scores.
/// Under bf16 or f16 the fused kernel rounds queries, keys, values and the softmax weights to that
/// format and multiplies with vdpbf16ps or vfmadd231ph; the blocked products stay f32.
// query: [B, Lq, H*D], key: [B, Lk, H*D], value: [B, Lk, H*D] -> [B, Lq, H*D]
public func attention(
    _ query: Tensor, _ key: Tensor, _ value: Tensor, heads: Int, queryChunk: Int = 256, keyBlock: Int = 1024
) -> Tensor {
    let headWidth = heads > 0 ? (query.shape.last ?? 0) / heads : 0
    return attention(query, key, value, heads: heads, queryChunk: queryChunk, keyBlock: keyBlock,
                     kernel: .preferred(headWidth: headWidth))
}

/// How attention runs.
enum AttentionKernel: Equatable {
    /// `CKernels`' AVX-512 kernel: per head the keys and values are packed once, then each block
    /// of 48 queries runs Q K^T, the running softmax and the product with V in one pass over key
    /// blocks of 256, its scores and output rows in cache; products in f32, bf16 or f16.
    case fused(AttentionArithmetic)
    /// Two BLAS products per block of queries and keys, the softmax between them, in f32.
    case blockedProducts

    /// The fused kernel where the CPU runs it for this head width, in the active backend's
    /// reduced precision where it has one and the kernel takes the width.
    static func preferred(headWidth: Int) -> AttentionKernel {
        guard GEMMBackend.cpuHasAVX512 else { return .blockedProducts }
        let width = Int32(clamping: headWidth)
        if let reduced = AttentionArithmetic(reducing: GEMMBackend.active),
           ck_attention_supports(width, reduced.kernelPrecision) != 0 {
            return .fused(reduced)
        }
        let f32 = AttentionArithmetic.f32
        return ck_attention_supports(width, f32.kernelPrecision) != 0 ? .fused(f32) : .blockedProducts
    }
}

/// The fused kernel's products: f32, or operands rounded to bf16 or f16.
enum AttentionArithmetic: Equatable {
    case f32, bf16, f16

    /// The reduced precision of a bf16 or f16 backend; nil for the f32 ones.
    init?(reducing backend: GEMMBackend) {
        switch backend {
        case .bf16: self = .bf16
        case .f16: self = .f16
        case .openBLAS, .oneDNN: return nil
        }
    }

    var kernelPrecision: Int32 {
        let precision = switch self {
        case .f32: CK_ATTENTION_F32
        case .bf16: CK_ATTENTION_BF16
        case .f16: CK_ATTENTION_F16
        }
        return Int32(precision)
    }
}

// query: [B, Lq, H*D], key: [B, Lk, H*D], value: [B, Lk, H*D] -> [B, Lq, H*D]
func attention(
    _ query: Tensor, _ key: Tensor, _ value: Tensor, heads: Int, queryChunk: Int = 256, keyBlock: Int = 1024,
    kernel: AttentionKernel
) -> Tensor {
    let problem = AttentionProblem(query: query.shape, key: key.shape, value: value.shape, heads: heads,
                                   queryChunk: queryChunk, keyBlock: keyBlock)
    let backend = GEMMBackend.active.float32Counterpart
    return Tensor(shape: query.shape) { out in
        query.withUnsafeBufferPointer { q in
            key.withUnsafeBufferPointer { k in
                value.withUnsafeBufferPointer { v in
                    guard let qBase = q.baseAddress, let kBase = k.baseAddress, let vBase = v.baseAddress,
                          let outBase = out.baseAddress else { return }
                    switch kernel {
                    case let .fused(arithmetic):
                        problem.solveFused(query: qBase, key: kBase, value: vBase, into: outBase, arithmetic: arithmetic)
                    case .blockedProducts:
                        problem.solve(query: qBase, key: kBase, value: vBase, into: outBase, backend: backend)
                    }
                }
            }
        }
    }
}

/// Sizes of one attention call and the work split: one task per (batch, head, query chunk).
struct AttentionProblem {
    let batch, queryLength, keyLength, heads, headDimension, queryChunk, keyBlock: Int

    init(query: [Int], key: [Int], value: [Int], heads: Int, queryChunk: Int, keyBlock: Int) {
        precondition(query.count == 3 && key.count == 3 && value.count == 3,
                     "attention inputs must be [B, L, H*D], got \(query), \(key), \(value)")
        precondition(key == value, "attention key \(key) and value \(value) differ")
        precondition(query[0] == key[0] && query[2] == key[2], "attention query \(query) does not match key \(key)")
        precondition(heads > 0 && query[2] % heads == 0, "attention width \(query[2]) does not split into \(heads) heads")
        precondition(key[1] > 0, "attention needs at least one key, got \(key)")
        precondition(queryChunk > 0 && keyBlock > 0, "attention queryChunk and keyBlock must be positive")
        (batch, queryLength, keyLength) = (query[0], query[1], key[1])
        self.heads = heads
        headDimension = query[2] / heads
        self.queryChunk = queryChunk
        self.keyBlock = keyBlock
    }

    var width: Int { heads * headDimension }
    var chunksPerHead: Int { (queryLength + queryChunk - 1) / queryChunk }
    var taskCount: Int { batch * heads * chunksPerHead }

    /// Spreads the tasks over the threads, each running single-threaded BLAS on its own
    /// score buffer. Measured on 2 cores against one multi-threaded sgemm per task (with the
    /// softmax rows split across threads between the two products), this was as fast or
    /// faster at every chunk size tried (256, 512, 1024 rows), and 256 rows was fastest.
    func solve(
        query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
        into out: UnsafeMutablePointer<Float>, backend: GEMMBackend
    ) {
        Parallel.forEachRange(count: taskCount, minimumBlock: 1) { tasks in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: min(queryChunk, queryLength) * min(keyBlock, keyLength))
            let maxima = UnsafeMutablePointer<Float>.allocate(capacity: queryChunk)
            let sums = UnsafeMutablePointer<Float>.allocate(capacity: queryChunk)
            defer {
                scores.deallocate()
                maxima.deallocate()
                sums.deallocate()
            }
            for task in tasks {
                run(task: task, query: query, key: key, value: value, into: out,
                    scores: scores, maxima: maxima, sums: sums, backend: backend)
            }
        }
    }

    /// One chunk of query rows of one head, over blocks of `keyBlock` keys with a running
    /// softmax: each block's scores are exponentiated against the largest score so far, and
    /// the rows already accumulated are rescaled when that maximum grows.
    private func run(
        task: Int, query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
        into out: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>,
        maxima: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Float>, backend: GEMMBackend
    ) {
        let chunk = task % chunksPerHead
        let head = (task / chunksPerHead) % heads
        let image = task / (chunksPerHead * heads)
        let firstRow = chunk * queryChunk
        let rows = min(queryChunk, queryLength - firstRow)
        let queryRows = query + (image * queryLength + firstRow) * width + head * headDimension
        let keyRows = key + image * keyLength * width + head * headDimension
        let valueRows = value + image * keyLength * width + head * headDimension
        let outRows = out + (image * queryLength + firstRow) * width + head * headDimension
        // Scores come out in base 2 (log2 e folded into the scale), for vectorExp2OfNonPositive.
        let scale = Float(M_LOG2E) / Float(headDimension).squareRoot()
        for firstKey in stride(from: 0, to: keyLength, by: keyBlock) {
            let keys = min(keyBlock, keyLength - firstKey)
            let isFirstBlock = firstKey == 0
            // scores[rows, keys] = log2(e) q k^T / sqrt(D)
            backend.sgemm(transposeB: true, m: rows, n: keys, k: headDimension, alpha: scale,
                          a: queryRows, lda: width, b: keyRows + firstKey * width, ldb: width, c: scores, ldc: keys)
            for row in 0..<rows {
                let rowScores = scores + row * keys
                let blockMaximum = vectorMax(rowScores, count: keys)
                let maximum = isFirstBlock ? blockMaximum : Swift.max(maxima[row], blockMaximum)
                let blockSum = exponentiate(rowScores, count: keys, shiftedBy: maximum, by: vectorExp2OfNonPositive)
                if isFirstBlock {
                    sums[row] = blockSum
                } else if maximum > maxima[row] {
                    let rescale = Foundation.exp2(maxima[row] - maximum)
                    sums[row] = sums[row] * rescale + blockSum
                    scaleRow(outRows + row * width, by: rescale)
                } else {
                    sums[row] += blockSum
                }
                maxima[row] = maximum
            }
            // out[rows, D] (+)= exp(scores) v
            backend.sgemm(m: rows, n: headDimension, k: keys, a: scores, lda: keys,
                          b: valueRows + firstKey * width, ldb: width, beta: isFirstBlock ? 0 : 1,
                          c: outRows, ldc: width)
        }
        for row in 0..<rows { scaleRow(outRows + row * width, by: 1 / sums[row]) }
    }

    /// The fused kernel, one head after another: the head's keys and values are packed once on
    /// this thread, then its query blocks are spread over the threads.
    func solveFused(
        query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
        into out: UnsafeMutablePointer<Float>, arithmetic: AttentionArithmetic
    ) {
        let precision = arithmetic.kernelPrecision
        precondition(ck_attention_supports(Int32(headDimension), precision) != 0,
                     "no fused attention kernel for heads of \(headDimension) in \(arithmetic)")
        FlopCounter.add(4 * batch * heads * queryLength * keyLength * headDimension)
        let (keys, rowStride, headWidth) = (Int32(keyLength), Int32(width), Int32(headDimension))
        let packedKeys = UnsafeMutableRawPointer.allocate(
            byteCount: ck_attention_packed_keys_bytes(keys, headWidth, precision), alignment: 64)
        let packedValues = UnsafeMutableRawPointer.allocate(
            byteCount: ck_attention_packed_values_bytes(keys, headWidth, precision), alignment: 64)
        defer {
            packedKeys.deallocate()
            packedValues.deallocate()
        }
        let blockRows = Int(CK_ATTENTION_QUERY_BLOCK)
        let blocks = (queryLength + blockRows - 1) / blockRows
        // log2(e) folded into the scale: the kernel exponentiates in base 2.
        let scale = Float(M_LOG2E) / Float(headDimension).squareRoot()
        for unit in 0..<batch * heads {
            let (image, head) = (unit / heads, unit % heads)
            let keyOffset = image * keyLength * width + head * headDimension
            let queryOffset = image * queryLength * width + head * headDimension
            ck_attention_pack(key + keyOffset, value + keyOffset, keys, rowStride, headWidth, precision, packedKeys,
                              packedValues)
            Parallel.forEachRange(count: blocks, minimumBlock: 1) { range in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: ck_attention_scratch_count(headWidth))
                defer { scratch.deallocate() }
                ck_attention_query_blocks(query + queryOffset, Int32(queryLength), rowStride, headWidth, packedKeys,
                                          packedValues, keys, scale, precision, Int32(range.lowerBound), Int32(range.count),
                                          out + queryOffset, scratch)
            }
        }
    }

    @inline(__always)
    private func scaleRow(_ row: UnsafeMutablePointer<Float>, by factor: Float) {
        for column in 0..<headDimension { row[column] *= factor }
    }
}
