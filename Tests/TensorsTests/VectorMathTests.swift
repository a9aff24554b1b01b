import Foundation
import Testing
@testable import Tensors

@Suite struct VectorMathTests {
    /// Steps of 1/1024 over [-8, 0] (where softmax weights live) and of 1/64 on to -126, in
    /// base 2, against exp2 in double precision: within 2 ulp wherever the result is normal.
    @Test func exp2OfNonPositiveIsWithinTwoULP() {
        let nearZero: [Float] = (0..<8 * 1024).map { -Float($0) / 1024 }
        let farther: [Float] = (8 * 64..<126 * 64).map { -Float($0) / 64 }
        let arguments = nearZero + farther
        var worst = 0.0
        for first in stride(from: 0, to: arguments.count - vectorWidth, by: vectorWidth) {
            var lanes = FloatVector()
            for lane in 0..<vectorWidth { lanes[lane] = arguments[first + lane] }
            let result = vectorExp2OfNonPositive(lanes)
            for lane in 0..<vectorWidth {
                let exact = Foundation.exp2(Double(lanes[lane]))
                worst = max(worst, abs(Double(result[lane]) - exact) / exact)
            }
        }
        #expect(worst < 2 * 1.19e-7, "largest relative error \(worst)")
        #expect(worst > 0, "a polynomial cannot be exact everywhere")
    }

    @Test func exp2OfNonPositiveKeepsItsEdges() {
        let result = vectorExp2OfNonPositive(FloatVector(-1000, -.infinity, -126, 0, -1, -0.5, .nan, -3,
                                                         0, 0, 0, 0, 0, 0, 0, 0))
        #expect(result[0] == 0x1p-126 && result[1] == 0x1p-126 && result[2] == 0x1p-126)
        #expect(result[3] == 1 && result[4] == 0.5 && result[7] == 0.125)
        #expect(abs(result[5] - Float(0.5.squareRoot())) <= Float(0.5.squareRoot()).ulp)
        #expect(result[6].isNaN)
    }
}
