import OverpaintTestSupport
import Testing
@testable import Tensors

@Suite struct HalfTensorTests {
    /// Every f16 bit pattern against Swift's IEEE conversion (subnormals, infinities, signed zeros).
    @Test func everyF16PatternWidensExactly() {
        var mismatches: [UInt16] = []
        for bits in UInt16.min ... UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let actual = HalfConversion.float(fromF16: bits)
            let same = expected.isNaN ? actual.isNaN : actual.bitPattern == expected.bitPattern
            if !same { mismatches.append(bits) }
        }
        #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(5))")
    }

    /// The bulk widening (AVX-512's conversion where the CPU has it) against the same reference,
    /// every pattern, from an odd byte offset and with a ragged tail of 7 values.
    @Test func bulkWideningMatchesSwiftsConversion() {
        let patterns = (0...Int(UInt16.max) + 7).map { UInt16(truncatingIfNeeded: $0) }
        let bytes = [UInt8(0)] + patterns.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        var widened = [Float](repeating: 0, count: patterns.count)
        bytes.withUnsafeBytes { raw in
            widened.withUnsafeMutableBufferPointer { out in
                HalfConversion.widenF16(raw.baseAddress! + 1, into: out.baseAddress!, count: patterns.count)
            }
        }
        let mismatches = zip(patterns, widened).filter { bits, actual in
            let expected = Float(Float16(bitPattern: bits))
            return expected.isNaN ? !actual.isNaN : actual.bitPattern != expected.bitPattern
        }
        #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(5))")
    }

    /// f32 to f16 (F16C where the CPU has it) against Swift's IEEE conversion: the neighbours of
    /// every f16 value and the midpoints between them (ties to even), subnormals, overflow to
    /// infinity and NaN, with a ragged tail of 5.
    @Test func narrowingToF16MatchesSwiftsConversion() {
        var values: [Float] = [.nan, .infinity, -.infinity, 65520, -65520, 65519.99, 1e-8, -1e-8, 0, -0.0]
        for bits in stride(from: UInt16(0), to: 0x7C00, by: 7) {
            let value = Float(Float16(bitPattern: bits))
            let next = Float(Float16(bitPattern: bits + 1))
            values += [value, -value, (value + next) / 2, -(value + next) / 2, value.nextUp]
        }
        values += [1, 2, 3, 4, 5]
        let narrowed = HalfTensor(narrowing: Tensor(shape: [values.count], scalars: values), to: .f16).floatTensor()
        let mismatches = zip(values, narrowed.scalars).filter { value, actual in
            let expected = Float(Float16(value))
            return expected.isNaN ? !actual.isNaN : actual.bitPattern != expected.bitPattern
        }
        #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(5))")
    }

    /// f32 to bf16: ties to even, NaN kept, as torch's `.to(torch.bfloat16)`.
    @Test func narrowingToBF16RoundsToNearestEven() {
        let values: [Float] = [1 + 0x1p-8, 1 + 3 * 0x1p-8, 1 + 0x1p-8 + 0x1p-20, -2, .infinity, .nan]
        let narrowed = HalfTensor(narrowing: Tensor(shape: [6], scalars: values), to: .bf16).floatTensor().scalars
        let expected: [Float] = [1, 1 + 0x1p-6, 1 + 0x1p-7, -2, .infinity]
        #expect(Array(narrowed.prefix(5)) == expected)
        #expect(narrowed[5].isNaN)
    }

    @Test func bf16IsTheTopHalfOfAFloat() {
        // torch.tensor([1.0, -2.0, 0.15625, 3.0e38], dtype=torch.bfloat16).view(torch.int16)
        let half = HalfTensor(shape: [4], format: .bf16, bitPatterns: [0x3F80, 0xC000, 0x3E20, 0x7F62])
        #expect(half.floatTensor().scalars == [1, -2, 0.15625, Float(bitPattern: 0x7F62_0000)])
    }

    @Test func unalignedBytesAndRowSlicesReadInPlace() {
        // Bytes at an odd address, as a safetensors file may put them.
        let values: [Float] = [0.5, -1.25, 3, 65504, -0.0001, 7, 0, -8]
        let raw = [UInt8](repeating: 0, count: 1) + values.flatMap { value -> [UInt8] in
            let bits = Float16(value).bitPattern
            return [UInt8(bits & 0xFF), UInt8(bits >> 8)]
        }
        let storage = ByteOwner(raw)
        let half = storage.bytes.withUnsafeBytes { buffer in
            HalfTensor(shape: [4, 2], format: .f16, bytes: UnsafeRawBufferPointer(rebasing: buffer[1...]), owner: storage)
        }
        #expect(half.floatTensor().scalars == values.map { Float(Float16($0)) })
        #expect(half.rows(1..<3).floatTensor().scalars == Array(values[2..<6]).map { Float(Float16($0)) })
        #expect(half.reshaped([2, 4]).floatTensor().shape == [2, 4])
    }

    @Test func rowPanelsCoverEveryRowWithinTheBudget() {
        let float = Tensor(shape: [7, 3], scalars: (0..<21).map { Float($0) - 10 })
        let weight = WeightTensor.half(halfCopy(of: float))
        var seen: [Float] = []
        var panelSizes: [Int] = []
        // 2 rows of 3 floats fit in 24 bytes: panels of 2, 2, 2 and 1 rows.
        weight.forEachRowPanel(budgetBytes: 24) { rows, panel in
            panelSizes.append(rows.count)
            seen += (0..<(rows.count * 3)).map { panel[$0] }
        }
        #expect(panelSizes == [2, 2, 2, 1])
        #expect(seen == float.scalars)
    }

    @Test(arguments: GEMMBackend.float32Cases)
    func linearWithAnF16WeightMatchesTorch(backend: GEMMBackend) throws {
        // F.linear(x, w, b), x [2, 3, 5], w [7, 5]; the weight rounded to f16 moves the output by
        // at most ~1e-3 relative (f16 has an 11-bit significand).
        let weight = try OpFixtures.tensor("linear.weight")
        let half = halfCopy(of: weight)
        let (x, bias) = (try OpFixtures.tensor("linear.x"), try OpFixtures.tensor("linear.bias"))
        let out = GEMMBackend.withBackend(backend) { linear(x, weight: .half(half), bias: bias) }
        expectClose(out, try OpFixtures.tensor("linear.out"), relative: 2e-3, absolute: 2e-3)
        expectClose(out, linear(x, weight: half.floatTensor(), bias: bias), relative: 1e-6, absolute: 1e-6)
    }

    @Test(arguments: GEMMBackend.float32Cases)
    func convolutionOverSeveralWeightPanelsMatchesTorch(backend: GEMMBackend) throws {
        // F.conv2d(x, w, b, stride=1, padding=1), x [1, 8, 13, 11], w [6, 8, 3, 3]; a panel budget of
        // 4 output channels (72 floats each) splits the weight into panels of 4 and 2 channels.
        // Against torch's f32 weights the f16 rounding, summed over 72 taps, moves outputs by up to
        // ~5e-3; against the same widened weights in f32 only the summation order differs.
        let weight = try OpFixtures.tensor("conv_banded.weight")
        let half = halfCopy(of: weight)
        let (x, bias) = (try OpFixtures.tensor("conv_banded.x"), try OpFixtures.tensor("conv_banded.bias"))
        let out = GEMMBackend.withBackend(backend) {
            conv2d(x, weight: .half(half), bias: bias, stride: 1, padding: Padding2D(1), columnBudgetBytes: 16 << 20,
                   panelBudgetBytes: 4 * 72 * 4)
        }
        expectClose(out, try OpFixtures.tensor("conv_banded.out"), relative: 2e-3, absolute: 1e-2)
        expectClose(out, conv2d(x, weight: half.floatTensor(), bias: bias, padding: Padding2D(1)))
    }

    @Test(arguments: GEMMBackend.float32Cases)
    func residualEpilogueOverWeightPanelsReadsEachPanelsChannels(backend: GEMMBackend) throws {
        // Each output stored as 0.2 * v + residual: the second panel must read the residual at
        // its own channels 4..<6, not at 0..<2.
        let (plain, convolve) = try panelledConvolution(backend: backend)
        let residual = Tensor(shape: plain.shape, scalars: (0..<plain.count).map { Float($0 % 97) })
        let out = convolve(.scaledResidual(scale: 0.2, residual: residual))
        expectClose(out, Tensor(shape: plain.shape, scalars: zip(plain.scalars, residual.scalars).map { 0.2 * $0 + $1 }))
    }

    @Test(arguments: GEMMBackend.float32Cases)
    func preLUOverWeightPanelsReadsEachPanelsSlopes(backend: GEMMBackend) throws {
        // The second panel's channels 4..<6 take slopes 4 and 5, not 0 and 1.
        let (plain, convolve) = try panelledConvolution(backend: backend)
        let slopes = Tensor(shape: [6], scalars: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
        let out = convolve(.preLU(slopes: slopes))
        let plane = plain.shape[2] * plain.shape[3]
        #expect(plain.scalars.contains { $0 < 0 })
        expectClose(out, Tensor(shape: plain.shape, scalars: plain.scalars.indices.map { index in
            let value = plain.scalars[index]
            return value < 0 ? slopes.scalars[index / plane % 6] * value : value
        }))
    }

    /// conv_banded (6 output channels) with its weight kept f16: the plain f32 convolution, and
    /// the same convolution with an epilogue over weight panels of 4 and 2 channels on the tap path.
    private func panelledConvolution(backend: GEMMBackend) throws -> (Tensor, (ConvEpilogue) -> Tensor) {
        let half = halfCopy(of: try OpFixtures.tensor("conv_banded.weight"))
        let (x, bias) = (try OpFixtures.tensor("conv_banded.x"), try OpFixtures.tensor("conv_banded.bias"))
        let plain = conv2d(x, weight: half.floatTensor(), bias: bias, padding: Padding2D(1))
        return (plain, { epilogue in
            GEMMBackend.withBackend(backend) {
                conv2d(x, weight: .half(half), bias: bias, stride: 1, padding: Padding2D(1), epilogue: epilogue,
                       columnBudgetBytes: 16 << 20, panelBudgetBytes: 4 * 72 * 4, tapMinimumWidth: 0)
            }
        })
    }

    /// The bf16 / f16 kernels read half weights as stored (here at an odd address, as a
    /// safetensors file may put them) and round them as they pack them: the same bits as the
    /// weights widened to f32 first, for both stored formats under both backends, through linear
    /// (with a residual) and GEGLU's projection. 300 rows are above the kernels' row floor; 333
    /// inputs leave an odd last pair.
    @Test(arguments: GEMMBackend.reducedCases, [HalfTensor.Format.f16, .bf16])
    func reducedKernelsReadStoredHalfWeightsAsTheirWidenedValues(backend: GEMMBackend, format: HalfTensor.Format) {
        let (rows, inFeatures, outFeatures) = (300, 333, 70)
        var generator = TorchGenerator(seed: 11)
        let x = generator.randn([rows, inFeatures])
        let widened = generator.randn([outFeatures, inFeatures]) * 0.05
        var bits = [UInt16](repeating: 0, count: widened.count)
        widened.withUnsafeBufferPointer { values in
            bits.withUnsafeMutableBufferPointer { HalfTensor.narrow(values, to: format, into: $0.baseAddress!) }
        }
        let storage = ByteOwner([0] + bits.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        let stored = storage.bytes.withUnsafeBytes { buffer in
            HalfTensor(shape: [outFeatures, inFeatures], format: format,
                       bytes: UnsafeRawBufferPointer(rebasing: buffer[1...]), owner: storage)
        }
        let float = stored.floatTensor()
        #expect(backend.multipliesStoredHalves(rows: rows))
        let bias = generator.randn([outFeatures])
        let residual = generator.randn([rows, outFeatures])
        GEMMBackend.withBackend(backend) {
            #expect(linear(x, weight: .half(stored), bias: bias, adding: residual).scalars
                == linear(x, weight: .float(float), bias: bias, adding: residual).scalars)
            #expect(geglu(projecting: x, weight: .half(stored), bias: bias).scalars
                == geglu(projecting: x, weight: .float(float), bias: bias).scalars)
        }
        let reference = linear(x, weight: .float(float), bias: bias)
        let reduced = GEMMBackend.withBackend(backend) { linear(x, weight: .half(stored), bias: bias) }
        expectClose(reduced, reference, relative: 2e-2, absolute: 2e-2)
    }

    private func halfCopy(of tensor: Tensor) -> HalfTensor {
        HalfTensor(shape: tensor.shape, format: .f16, bitPatterns: tensor.scalars.map { Float16($0).bitPattern })
    }
}

/// Bytes that outlive the half tensor reading them in place.
private final class ByteOwner: @unchecked Sendable {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
}

@Suite struct WeightTensorLayoutTests {
    /// Layers sit inline in large model structs that debug builds copy on the stack; a weight
    /// must not make them larger than an f32 tensor did.
    @Test func aWeightIsNoLargerThanATensor() {
        #expect(MemoryLayout<WeightTensor>.size <= MemoryLayout<Tensor>.size)
    }
}
