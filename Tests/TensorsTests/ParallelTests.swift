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

@Suite struct SingleThreadedBLASTests {
    @Test func nestedAndConcurrentCallersStaySingleThreadedUntilTheLastLeaves() {
        let outerCount = 4
        var insideCounts = [Int](repeating: 0, count: outerCount)
        insideCounts.withUnsafeMutableBufferPointer { counts in
            nonisolated(unsafe) let counts = counts
            Parallel.withSingleThreadedBLAS {
                DispatchQueue.concurrentPerform(iterations: outerCount) { index in
                    Parallel.withSingleThreadedBLAS {
                        Parallel.withSingleThreadedBLAS { counts[index] = Parallel.blasThreadCount }
                    }
                }
                #expect(Parallel.blasThreadCount == 1)
            }
        }
        #expect(insideCounts == [Int](repeating: 1, count: outerCount))
    }
}
