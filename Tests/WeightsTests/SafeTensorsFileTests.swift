import Foundation
import OverpaintTestSupport
import Testing
import Tensors
@testable import Weights

/// Reading files written by the reference `safetensors` package (tools/reference/weights_fixtures.py).
@Suite struct SafeTensorsFileTests {
    @Test func readsEveryFloatDTypeAsTheReferenceWroteIt() throws {
        let file = try SafeTensorsFile(url: Fixtures.url("weights", "reader.safetensors"))
        let expected = try #require(try Fixtures.json("weights", "reader.json")["tensors"] as? [String: [String: Any]])
        #expect(Set(file.keys) == Set(expected.keys))
        for (name, entry) in expected where entry["dtype"] as? String != "int64" {
            let tensor = try file.tensor(named: name)
            let shape = try #require(entry["shape"] as? [Int])
            // safetensors.torch.save_file(tensors) -> t.to(torch.float64).flatten().tolist()
            let values = try #require(entry["values"] as? [String]).map { Float(try #require(Double($0))) }
            #expect(tensor.shape == shape, "\(name)")
            #expect(tensor.scalars == values, "\(name)")
        }
    }

    @Test func reportsDTypesShapesAndMetadata() throws {
        let file = try SafeTensorsFile(url: Fixtures.url("weights", "reader.safetensors"))
        #expect(try file.info(named: "bf16").dtype == .bf16)
        #expect(try file.info(named: "f16_odd").dtype == .f16)
        #expect(try file.info(named: "f64").dtype == .f64)
        #expect(try file.shape(of: "scalar") == [])
        #expect(try file.shape(of: "empty") == [0, 4])
        #expect(file.metadata == ["format": "pt"])
    }

    @Test func integerTensorsAreNotWeights() throws {
        let file = try SafeTensorsFile(url: Fixtures.url("weights", "reader.safetensors"))
        #expect(throws: WeightsError.unsupportedDType(path: file.path, tensor: "i64", dtype: "I64")) {
            try file.tensor(named: "i64")
        }
    }

    @Test func missingTensorNamesFileAndTensor() throws {
        let file = try SafeTensorsFile(url: Fixtures.url("weights", "reader.safetensors"))
        let error = #expect(throws: WeightsError.self) { try file.tensor(named: "nope") }
        let message = try #require(error?.errorDescription)
        #expect(message.contains("reader.safetensors") && message.contains("'nope'") && !message.contains("\n"))
    }

    @Test func everyTruncationIsAnErrorNotACrash() throws {
        let bytes = try Data(contentsOf: Fixtures.url("weights", "reader.safetensors"))
        let folder = try makeScratchFolder()
        let url = folder.appendingPathComponent("cut.safetensors")
        for length in 0 ..< bytes.count {
            try bytes.prefix(length).write(to: url)
            #expect(throws: WeightsError.self, "cut at \(length)") { try SafeTensorsFile(url: url) }
        }
    }

    @Test(arguments: [
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}"#, 8, "out of range"),
        (#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, 8, "size mismatch"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, 16, "overlap"),
        (#"{"a":{"dtype":"F8_E9","shape":[2],"data_offsets":[0,2]}}"#, 8, "unknown dtype"),
        (#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, 8, "negative shape"),
        (#"{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#, 8, "fractional shape"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, 8, "reversed offsets"),
        (#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, 8, "overflowing shape"),
        (#"{"a":{"dtype":"F32","shape":[2]}}"#, 8, "no offsets"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":1}}"#, 8, "metadata not strings"),
        (#"["not an object"]"#, 8, "array header"),
        (#"{"a": "#, 8, "broken JSON"),
    ])
    func lyingHeadersAreRejected(header: String, dataBytes: Int, why: String) throws {
        let url = try makeScratchFolder().appendingPathComponent("lying.safetensors")
        try writeRawSafeTensors(header: header, data: [UInt8](repeating: 0, count: dataBytes), to: url)
        #expect(throws: WeightsError.self, "\(why)") { try SafeTensorsFile(url: url) }
    }

    @Test func headerLengthBeyondTheFileIsTruncation() throws {
        let url = try makeScratchFolder().appendingPathComponent("long.safetensors")
        try writeRawSafeTensors(header: "{}", data: [], to: url, declaredLength: 1 << 40)
        let error = #expect(throws: WeightsError.self) { try SafeTensorsFile(url: url) }
        guard case .truncated = error else { Issue.record("expected truncated, got \(String(describing: error))"); return }
    }

    @Test func unalignedTensorsAreReadCorrectly() throws {
        // f16 1.5 (0x3E00) at bytes 0..<2, then f32 -2.25 (0xC0100000) at the unaligned bytes 2..<6.
        let url = try makeScratchFolder().appendingPathComponent("unaligned.safetensors")
        let header = #"{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"f":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}"#
        try writeRawSafeTensors(header: header, data: [0x00, 0x3E, 0x00, 0x00, 0x10, 0xC0], to: url)
        let file = try SafeTensorsFile(url: url)
        #expect(try file.tensor(named: "h").scalars == [1.5])
        #expect(try file.tensor(named: "f").scalars == [-2.25])
    }

    @Test func halfTableMatchesFloat16Conversion() {
        // Exact widening of every f16 bit pattern; NaNs stay NaN.
        for bits in stride(from: 0, through: Int(UInt16.max), by: 97) {
            let half = Float16(bitPattern: UInt16(bits))
            let widened = ScalarConversion.halfToFloat[bits]
            #expect(half.isNaN ? widened.isNaN : widened == Float(half))
        }
    }
}
