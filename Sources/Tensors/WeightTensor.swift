/// A layer's weight as its checkpoint stores it: f32 values, or f16/bf16 kept half-size and widened
/// to f32 a panel of rows at a time by the ops that use it (linear, conv2d).
public enum WeightTensor: Sendable {
    case float(Tensor)
    case half(HalfTensor)

    public var shape: [Int] {
        switch self {
        case let .float(tensor): tensor.shape
        case let .half(tensor): tensor.shape
        }
    }

    /// The values as f32 (widened anew on each call for half storage).
    public func floatTensor() -> Tensor {
        switch self {
        case let .float(tensor): tensor
        case let .half(tensor): tensor.floatTensor()
        }
    }

    /// Bytes of widened f32 rows one panel may hold: large enough that every Stable Diffusion
    /// linear and nearly every convolution weight is one panel, small enough to bound the scratch.
    static let panelBudgetBytes = 32 << 20

    /// Whether `forEachRowPanel` hands over every row at once.
    var isOnePanel: Bool {
        guard case let .half(tensor) = self else { return true }
        return tensor.count * MemoryLayout<Float>.size <= Self.panelBudgetBytes
    }

    /// A linear layer's product, `c[m x features] += x[m x in] @ weight[features]^T`, with `c` and
    /// `x` row-major (`ldc` and `in` apart).
    typealias LinearProduct = (_ m: Int, _ x: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) -> Void

    /// Calls `body` with each panel of output features (`forEachRowPanel`) and the product over
    /// it; where `backend` multiplies half values as stored, for products of `rows` rows, once
    /// for every feature, with half weights read in place and never widened.
    // weight: [out, in]
    func forEachLinearPanel(backend: GEMMBackend, rows: Int, _ body: (Range<Int>, LinearProduct) -> Void) {
        precondition(shape.count == 2, "a linear weight is [out, in], got \(shape)")
        let (outFeatures, inFeatures) = (shape[0], shape[1])
        if case let .half(tensor) = self, backend.multipliesStoredHalves(rows: rows) {
            tensor.withStoredBits { bits in
                body(0..<outFeatures) { m, x, c, ldc in
                    backend.productWithHalfWeight(m: m, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
                                                  weight: bits, format: tensor.format, ldb: inFeatures, beta: 1,
                                                  c: c, ldc: ldc)
                }
            }
            return
        }
        forEachRowPanel { features, panel in
            body(features) { m, x, c, ldc in
                backend.sgemm(transposeB: true, m: m, n: features.count, k: inFeatures, a: x, lda: inFeatures,
                              b: panel, ldb: inFeatures, beta: 1, c: c, ldc: ldc)
            }
        }
    }

    /// Calls `body` with consecutive runs of rows along the first axis (output features or
    /// channels) as f32, row-major over the other axes. f32 weights pass through as one panel
    /// without a copy; half weights are widened into one scratch panel of at most
    /// `budgetBytes` (at least one row).
    func forEachRowPanel(budgetBytes: Int = panelBudgetBytes, _ body: (Range<Int>, UnsafePointer<Float>) -> Void) {
        let rows = shape.first ?? 1
        switch self {
        case let .float(tensor):
            tensor.withUnsafeBufferPointer { values in
                guard let base = values.baseAddress else { return }
                body(0..<rows, base)
            }
        case let .half(tensor):
            let rowSize = tensor.count / Swift.max(1, rows)
            guard rowSize > 0 else { return }
            let panelRows = Swift.min(rows, Swift.max(1, budgetBytes / (rowSize * MemoryLayout<Float>.size)))
            let panel = UnsafeMutablePointer<Float>.allocate(capacity: panelRows * rowSize)
            defer { panel.deallocate() }
            for first in stride(from: 0, to: rows, by: panelRows) {
                let range = first ..< Swift.min(rows, first + panelRows)
                tensor.widen(range.lowerBound * rowSize ..< range.upperBound * rowSize, into: panel)
                body(range, UnsafePointer(panel))
            }
        }
    }
}
