import Dispatch
import Testing
@testable import Tensors

@Suite struct ParallelTests {
    @Test func forEachVisitsEveryIndexOnce() {
        let count = 1_000
        var visits = [Int](repeating: 0, count: count)
        visits.withUnsafeMutableBufferPointer { buffer in
            Parallel.forEach(count: count) { buffer[$0] += 1 }
        }
        #expect(visits == [Int](repeating: 1, count: count))
    }

    @Test func rangesTileTheWholeCount() {
        let count = 100_003
        var visits = [Int](repeating: 0, count: count)
        visits.withUnsafeMutableBufferPointer { buffer in
            Parallel.forEachRange(count: count, minimumBlock: 7) { range in
                for index in range { buffer[index] += 1 }
            }
        }
        #expect(visits.allSatisfy { $0 == 1 })
    }

    @Test func threadCountIsPositive() {
        #expect(Parallel.threadCount >= 1)
    }

    @Test func environmentVariableSetsThreadCount() {
        #expect(Parallel.requestedThreadCount(in: ["OVERPAINT_THREADS": "3"]) == 3)
        #expect(Parallel.requestedThreadCount(in: ["OVERPAINT_THREADS": " 1 "]) == 1)
        #expect(Parallel.requestedThreadCount(in: ["OVERPAINT_THREADS": "0"]) == nil)
        #expect(Parallel.requestedThreadCount(in: ["OVERPAINT_THREADS": "many"]) == nil)
        #expect(Parallel.requestedThreadCount(in: [:]) == nil)
    }
}

@Suite struct BLASThreadCountTests {
    @Test func productsInsideAParallelBlockAreSingleThreaded() {
        let blocks = 4
        var insideCounts = [Int](repeating: 0, count: blocks)
        insideCounts.withUnsafeMutableBufferPointer { counts in
            Parallel.forEachRange(count: blocks, blocks: blocks) { range in
                for index in range { counts[index] = Parallel.blasThreadCount }
            }
        }
        #expect(insideCounts == [Int](repeating: 1, count: blocks))
        #expect(Parallel.blasThreadCount == Parallel.threadCount)
    }
}
