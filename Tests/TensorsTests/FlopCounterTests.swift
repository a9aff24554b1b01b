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
