/// torch.nn.functional.linear: `x @ weight^T + bias`.
// x: [..., in], weight: [out, in] (torch layout), bias: [out] -> [..., out]
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
    linear(x, weight: .float(weight), bias: bias)
}

/// torch.nn.functional.linear with the weight as stored; half weights go as they are to the bf16 /
/// f16 kernels, and are otherwise widened a panel of output features at a time, each panel's
/// product written into its columns of the output.
// x: [..., in], weight: [out, in] (torch layout), bias: [out] -> [..., out]
public func linear(_ x: Tensor, weight: WeightTensor, bias: Tensor? = nil) -> Tensor {
    linearProduct(x, weight: weight, bias: bias) { out, rows, width in fillRows(out, rows: rows, with: bias, width: width) }
}

/// `linear(x, weight, bias) + residual`, the residual (with the bias) written where the product
/// accumulates: a transformer's residual connection without a pass over the output afterwards.
// x: [..., in], weight: [out, in], bias: [out], residual: [..., out] -> [..., out]
public func linear(_ x: Tensor, weight: WeightTensor, bias: Tensor? = nil, adding residual: Tensor) -> Tensor {
    linearProduct(x, weight: weight, bias: bias) { out, rows, width in
        precondition(residual.shape == Array(x.shape.dropLast()) + [width],
                     "linear residual \(residual.shape) is not shaped as the output")
        fillRows(out, rows: rows, from: residual, plus: bias, width: width)
    }
}

/// `x @ weight^T` accumulated onto what `fill` writes into the output (rows x out features).
private func linearProduct(
    _ x: Tensor, weight: WeightTensor, bias: Tensor?,
    fill: (UnsafeMutablePointer<Float>, _ rows: Int, _ width: Int) -> Void
) -> Tensor {
    precondition(weight.shape.count == 2, "linear weight must be [out, in], got \(weight.shape)")
    let (outFeatures, inFeatures) = (weight.shape[0], weight.shape[1])
    precondition(x.shape.last == inFeatures, "linear input \(x.shape) does not end in \(inFeatures)")
    if let bias { precondition(bias.shape == [outFeatures], "linear bias \(bias.shape) is not [\(outFeatures)]") }
    let rows = x.count / inFeatures
    let outShape = Array(x.shape.dropLast()) + [outFeatures]
    let backend = GEMMBackend.active
    return Tensor(shape: outShape) { out in
        guard let outBase = out.baseAddress else { return }
        fill(outBase, rows, outFeatures)
        x.withUnsafeBufferPointer { xs in
            guard let xBase = xs.baseAddress else { return }
            weight.forEachLinearPanel(backend: backend, rows: rows) { features, product in
                product(rows, xBase, outBase + features.lowerBound, outFeatures)
            }
        }
    }
}

/// torch.matmul for matrices and batches of matrices; `b` may be one matrix shared by every batch.
// a: [..., M, K], b: [..., K, N] or [K, N] -> [..., M, N]
public func matmul(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.rank >= 2 && b.rank >= 2, "matmul needs matrices, got \(a.shape) and \(b.shape)")
    let (m, k) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let (kb, n) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
    precondition(k == kb, "matmul inner sizes differ: \(a.shape) x \(b.shape)")
    let batchShape = Array(a.shape.dropLast(2))
    let batch = batchShape.reduce(1, *)
    let sharedB = b.rank == 2
    precondition(sharedB || Array(b.shape.dropLast(2)) == batchShape,
                 "matmul batch shapes differ: \(a.shape) x \(b.shape)")
    if sharedB {
        // One sgemm over all batches stacked as rows is faster than `batch` small ones.
        return matmulRows(a, b, rows: batch * m, k: k, n: n, outShape: batchShape + [m, n])
    }
    let backend = GEMMBackend.active
    return Tensor(shape: batchShape + [m, n]) { out in
        a.withUnsafeBufferPointer { aBuffer in
            b.withUnsafeBufferPointer { bBuffer in
                for index in 0..<batch {
                    backend.sgemm(m: m, n: n, k: k,
                          a: aBuffer.baseAddress.map { $0 + index * m * k }, lda: k,
                          b: bBuffer.baseAddress.map { $0 + index * k * n }, ldb: n,
                          c: out.baseAddress.map { $0 + index * m * n }, ldc: n)
                }
            }
        }
    }
}

private func matmulRows(_ a: Tensor, _ b: Tensor, rows: Int, k: Int, n: Int, outShape: [Int]) -> Tensor {
    let backend = GEMMBackend.active
    return Tensor(shape: outShape) { out in
        a.withUnsafeBufferPointer { aBuffer in
            b.withUnsafeBufferPointer { bBuffer in
                backend.sgemm(m: rows, n: n, k: k, a: aBuffer.baseAddress, lda: k, b: bBuffer.baseAddress, ldb: n,
                      c: out.baseAddress, ldc: n)
            }
        }
    }
}

/// Writes `residual + bias` into a `rows x width` matrix (`residual` alone without a bias).
func fillRows(_ base: UnsafeMutablePointer<Float>, rows: Int, from residual: Tensor, plus bias: Tensor?, width: Int) {
    let biasValues = bias?.scalars ?? [Float](repeating: 0, count: width)
    residual.withUnsafeBufferPointer { residualBuffer in
        biasValues.withUnsafeBufferPointer { biasBuffer in
            guard let from = residualBuffer.baseAddress, let biasBase = biasBuffer.baseAddress else { return }
            Parallel.forEachRange(count: rows, minimumBlock: Swift.max(1, 65_536 / Swift.max(1, width))) { range in
                for row in range {
                    mapVectorPairs(from + row * width, biasBase, base + row * width, count: width) { r, b in r + b }
                }
            }
        }
    }
}

/// Writes `bias` into every row of a `rows x width` matrix, or zeros without a bias.
func fillRows(_ base: UnsafeMutablePointer<Float>, rows: Int, with bias: Tensor?, width: Int) {
    guard let bias else {
        base.initialize(repeating: 0, count: rows * width)
        return
    }
    bias.withUnsafeBufferPointer { biasBuffer in
        guard let biasBase = biasBuffer.baseAddress else { return }
        Parallel.forEachRange(count: rows, minimumBlock: Swift.max(1, 65_536 / Swift.max(1, width))) { range in
            for row in range { (base + row * width).initialize(from: biasBase, count: width) }
        }
    }
}
