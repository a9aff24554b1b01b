import Foundation
import Testing
@testable import Tensors

@Test func flopCounterCountsEachGEMMAsTwiceItsMultiplyAdds() {
    let a = Tensor(repeating: 1, shape: [3, 5])
    let b = Tensor(repeating: 1, shape: [5, 7])
    let (product, flops) = FlopCounter.measure { matmul(a, b) }
    #expect(product.shape == [3, 7])
    let multiplyAdds: Double = 3 * 5 * 7
    #expect(flops == 2 * multiplyAdds)
}

@Test func flopCounterCountsAConvolutionAsItsGEMMs() {
    let x = Tensor(repeating: 1, shape: [2, 3, 6, 6])
    let weight = Tensor(repeating: 1, shape: [4, 3, 3, 3])
    let (_, flops) = FlopCounter.measure { conv2d(x, weight: weight, bias: nil, padding: 1) }
    let multiplyAdds: Double = 2 * 4 * 27 * 36  // batch x out channels x (in x 3 x 3) x output pixels
    #expect(flops == 2 * multiplyAdds)
}

/// Products run on `Parallel`'s worker threads count towards the caller's measure; products
/// outside it, even during it on another thread, do not; an enclosing measure includes an inner one.
@Test func flopCounterFollowsWorkerThreadsAndIgnoresOthers() {
    let a = Tensor(repeating: 1, shape: [4, 4])
    let outsider = Thread {
        for _ in 0..<2_000 { _ = matmul(a, a) }
    }
    outsider.start()
    let (inner, outer) = FlopCounter.measure {
        Parallel.forEach(count: 8) { _ in _ = matmul(a, a) }
        return FlopCounter.measure { matmul(a, a) }.flops
    }
    #expect(inner == 2 * 64)
    #expect(outer == 9 * 2 * 64)
}
