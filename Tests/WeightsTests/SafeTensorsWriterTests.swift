import Foundation
import OverpaintTestSupport
import Testing
import Tensors
@testable import Weights

@Suite struct SafeTensorsWriterTests {
    @Test(arguments: [SafeTensorsWriter.StorageType.f32, .f16, .bf16])
    func roundTripsValuesRepresentableInTheStorageType(dtype: SafeTensorsWriter.StorageType) throws {
        // 0.5, -2, 1.5 and 3 are exact in f16 and bf16.
        let tensors = [
            "a.weight": Tensor(shape: [2, 2], scalars: [0.5, -2, 1.5, 3]),
            "b": Tensor(shape: [3], scalars: [0, -0.25, 8]),
            "odd": Tensor(shape: [1], scalars: [1]),
        ]
        let url = try makeScratchFolder().appendingPathComponent("w.safetensors")
        try SafeTensorsWriter.write(tensors, dtype: dtype, metadata: ["format": "pt"], to: url)
        let file = try SafeTensorsFile(url: url)
        #expect(file.keys == ["a.weight", "b", "odd"])
        #expect(file.metadata == ["format": "pt"])
        #expect(file.header.dataStart % 8 == 0)
        for (name, tensor) in tensors {
            #expect(try file.tensor(named: name) == tensor)
            #expect(try file.info(named: name).dtype.rawValue == dtype.rawValue)
        }
    }

    @Test func roundsToNearestEven() throws {
        // 1 + 2^-11 lies halfway between f16 1.0 and 1 + 2^-10; 1 + 2^-8 halfway between bf16 1.0 and 1 + 2^-7.
        let url = try makeScratchFolder().appendingPathComponent("r.safetensors")
        let values: [Float] = [1 + 0x1p-11, 1 + 3 * 0x1p-11, 1 + 0x1p-8, 1 + 3 * 0x1p-8]
        try SafeTensorsWriter.write(["x": Tensor(shape: [4], scalars: values)], dtype: .f16, to: url)
        #expect(try SafeTensorsFile(url: url).tensor(named: "x").scalars == [1, 1 + 0x1p-9, 1 + 0x1p-8, 1 + 0x1p-8 * 3])
        try SafeTensorsWriter.write(["x": Tensor(shape: [4], scalars: values)], dtype: .bf16, to: url)
        #expect(try SafeTensorsFile(url: url).tensor(named: "x").scalars == [1, 1, 1, 1 + 0x1p-6])
    }

    @Test func writesOverAnExistingFileAndLeavesNoTemporary() throws {
        let folder = try makeScratchFolder()
        let url = folder.appendingPathComponent("m.safetensors")
        try SafeTensorsWriter.write(["x": Tensor(zeros: [2])], to: url)
        try SafeTensorsWriter.write(["y": Tensor(zeros: [3])], to: url)
        #expect(try SafeTensorsFile(url: url).keys == ["y"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["m.safetensors"])
    }
}
