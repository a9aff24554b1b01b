import Foundation
import Tensors

/// A network stored as an ncnn `.param` (text graph) and `.bin` (weights) pair, as
/// Tencent ncnn writes them.
///
/// This reads: the `.param` text format (magic 7767517, a `layers blobs` count line, then
/// `Type name inputCount outputCount inputs... outputs... key=value...`, where keys
/// <= -23300 hold arrays `n,v1,...,vn` under key `-key - 23300`), and the `.bin` weights of
/// the layer types Real-ESRGAN's exports use, in layer order.
///
/// Limitations: only the layer types in `NCNNLayer.supportedTypes`; convolution weights in
/// f16 (tag 0x01306B47) or raw f32 (tag 0); no int8 or table-quantised weights; dilation 1,
/// groups 1; the binary `.param.bin` form is not read.
public struct NCNNModel: Sendable {
    public let layers: [NCNNLayer]
    /// The `.param` file, for error messages.
    public let path: String

    /// Reads `param` and its weights `bin`.
    public init(param: URL, bin: URL) throws {
        guard let text = String(data: try regularFileContents(param), encoding: .utf8) else {
            throw WeightsError.unreadable(path: param.path, reason: "not UTF-8 text")
        }
        let parsed = try NCNNParamParser(path: param.path).parse(text)
        let data = try regularFileContents(bin)
        var reader = NCNNWeightReader(data: data, path: bin.path)
        layers = try parsed.map { try reader.loadWeights(of: $0) }
        try reader.expectEnd()
        path = param.path
    }

    /// The layers of `type`, in file order.
    public func layers(ofType type: String) -> [NCNNLayer] {
        layers.filter { $0.type == type }
    }
}

/// One value of a layer's `key=value` list.
public enum NCNNParamValue: Sendable, Equatable {
    case int(Int)
    case float(Float)
    case array([Float])
}

/// One layer line of a `.param` file, with its weights once loaded.
public struct NCNNLayer: Sendable {
    /// The layer types whose parameters and weights this reader understands.
    public static let supportedTypes: Set<String> = [
        "Input", "Split", "Concat", "Convolution", "ReLU", "PReLU", "Eltwise", "BinaryOp",
        "Interp", "PixelShuffle",
    ]

    public let type: String
    public let name: String
    public let inputs: [String]
    public let outputs: [String]
    public let params: [Int: NCNNParamValue]
    /// Convolution: "weight" `[out, in, kh, kw]` and "bias" `[out]` (when `5=1`);
    /// PReLU: "weight" `[slopes]`. Empty for layers without weights.
    public internal(set) var weights: [String: Tensor] = [:]

    /// The integer parameter `key` (ncnn's `pd.get(key, default)`); a float value is
    /// truncated, and one that no Int holds (NaN, infinite, beyond 2^63) reads as `default`.
    public func int(_ key: Int, default value: Int) -> Int {
        switch params[key] {
        case let .int(v): return v
        case let .float(v): return Int(exactly: v.rounded(.towardZero)) ?? value
        default: return value
        }
    }

    /// The float parameter `key`.
    public func float(_ key: Int, default value: Float) -> Float {
        switch params[key] {
        case let .int(v): return Float(v)
        case let .float(v): return v
        default: return value
        }
    }

    /// The array parameter `key` (written as key `-23300 - key`), empty when absent.
    public func array(_ key: Int) -> [Float] {
        if case let .array(values) = params[key] { return values }
        return []
    }
}

/// The text `.param` format, line by line.
struct NCNNParamParser {
    static let magic = "7767517"
    let path: String

    func parse(_ text: String) throws -> [NCNNLayer] {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard lines.first == Self.magic else {
            throw WeightsError.badNCNNParam(path: path, line: 1, detail: "first line is not the magic \(Self.magic)")
        }
        let counts = lines.count > 1 ? lines[1].split(separator: " ", omittingEmptySubsequences: true) : []
        guard counts.count == 2, let layerCount = Int(counts[0]), layerCount >= 0 else {
            throw WeightsError.badNCNNParam(path: path, line: 2, detail: "expected 'layerCount blobCount'")
        }
        let layerLines = lines.dropFirst(2).enumerated().filter { !$0.element.isEmpty }
        guard layerLines.count == layerCount else {
            throw WeightsError.badNCNNParam(path: path, line: 2,
                                           detail: "declares \(layerCount) layers, file has \(layerLines.count)")
        }
        return try layerLines.map { try parseLayer($0.element, line: $0.offset + 3) }
    }

    private func parseLayer(_ text: String, line: Int) throws -> NCNNLayer {
        let fields = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard fields.count >= 4, let inputCount = Int(fields[2]), let outputCount = Int(fields[3]),
              inputCount >= 0, outputCount >= 0, inputCount <= fields.count - 4,
              outputCount <= fields.count - 4 - inputCount else {
            throw WeightsError.badNCNNParam(path: path, line: line, detail: "expected 'Type name nin nout blobs...'")
        }
        let (type, name) = (fields[0], fields[1])
        guard NCNNLayer.supportedTypes.contains(type) else {
            throw WeightsError.unsupportedNCNNLayer(path: path, layer: name, type: type)
        }
        let blobsEnd = 4 + inputCount + outputCount
        var params: [Int: NCNNParamValue] = [:]
        for field in fields[blobsEnd...] {
            let (key, value) = try parseParam(field, line: line)
            params[key] = value
        }
        return NCNNLayer(type: type, name: name, inputs: Array(fields[4 ..< 4 + inputCount]),
                         outputs: Array(fields[4 + inputCount ..< blobsEnd]), params: params)
    }

    private func parseParam(_ field: String, line: Int) throws -> (Int, NCNNParamValue) {
        let parts = field.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let key = Int(parts[0]) else {
            throw WeightsError.badNCNNParam(path: path, line: line, detail: "bad parameter '\(field)'")
        }
        if key <= -23300 {
            let items = parts[1].split(separator: ",").map(String.init)
            let values = items.dropFirst().compactMap { Float($0) }
            guard let count = items.first.flatMap({ Int($0) }), count == values.count,
                  values.count == items.count - 1 else {
                throw WeightsError.badNCNNParam(path: path, line: line, detail: "bad array parameter '\(field)'")
            }
            return (-(key + 23300), .array(values))
        }
        // ncnn reads a value as float when it has a decimal point or an exponent.
        let isFloat = parts[1].contains(where: { ".eE".contains($0) })
        if isFloat, let value = Float(parts[1]) { return (key, .float(value)) }
        if !isFloat, let value = Int(parts[1]) { return (key, .int(value)) }
        throw WeightsError.badNCNNParam(path: path, line: line, detail: "bad parameter value '\(field)'")
    }
}

/// The `.bin` file read front to back, as ncnn's `ModelBinFromDataReader` does.
struct NCNNWeightReader {
    static let float16Tag: UInt32 = 0x0130_6B47
    static let float32Tag: UInt32 = 0

    let data: Data
    let path: String
    private var offset = 0

    init(data: Data, path: String) {
        self.data = data
        self.path = path
    }

    mutating func loadWeights(of layer: NCNNLayer) throws -> NCNNLayer {
        var layer = layer
        switch layer.type {
        case "Convolution":
            let outputs = layer.int(0, default: 0)
            let kernelW = layer.int(1, default: 0)
            let kernelH = layer.int(11, default: kernelW)
            let count = layer.int(6, default: 0)
            let (kernelArea, areaOverflows) = kernelW.multipliedReportingOverflow(by: kernelH)
            let (perInput, perInputOverflows) = outputs.multipliedReportingOverflow(by: kernelArea)
            guard outputs > 0, kernelW > 0, kernelH > 0, count > 0, !areaOverflows, !perInputOverflows,
                  count % perInput == 0 else {
                throw WeightsError.badNCNNWeights(path: path, layer: layer.name,
                                                  detail: "weight_data_size \(count) does not fit \(outputs) outputs of \(kernelH)x\(kernelW)")
            }
            let inputs = count / perInput
            layer.weights["weight"] = Tensor(shape: [outputs, inputs, kernelH, kernelW],
                                             scalars: try taggedFloats(count: count, layer: layer.name))
            if layer.int(5, default: 0) != 0 {
                layer.weights["bias"] = Tensor(shape: [outputs], scalars: try rawFloats(count: outputs, layer: layer.name))
            }
        case "PReLU":
            let count = max(1, layer.int(0, default: 0))
            layer.weights["weight"] = Tensor(shape: [count], scalars: try rawFloats(count: count, layer: layer.name))
        default:
            break
        }
        return layer
    }

    func expectEnd() throws {
        guard offset == data.count else {
            throw WeightsError.badNCNNWeights(path: path, layer: "(end)",
                                              detail: "\(data.count - offset) bytes left after the last layer")
        }
    }

    /// A 4-byte storage tag, then the values (ncnn's `load(w, type: 0)`).
    private mutating func taggedFloats(count: Int, layer: String) throws -> [Float] {
        let tagBytes = try take(4, layer: layer)
        let tag = tagBytes.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
        switch UInt32(littleEndian: tag) {
        case Self.float16Tag:
            // f16 data is padded to a multiple of 4 bytes.
            let bytes = try take((length(of: count, bytesEach: 2, layer: layer) + 3) / 4 * 4, layer: layer)
            return bytes.withUnsafeBytes { ScalarConversion.floats(from: $0, dtype: .f16, count: count) } ?? []
        case Self.float32Tag:
            return try rawFloats(count: count, layer: layer)
        default:
            throw WeightsError.badNCNNWeights(path: path, layer: layer,
                                              detail: String(format: "unsupported weight storage tag 0x%08X", tag))
        }
    }

    /// Untagged f32 values (ncnn's `load(w, type: 1)`).
    private mutating func rawFloats(count: Int, layer: String) throws -> [Float] {
        let bytes = try take(length(of: count, bytesEach: 4, layer: layer), layer: layer)
        return bytes.withUnsafeBytes { ScalarConversion.floats(from: $0, dtype: .f32, count: count) } ?? []
    }

    /// The bytes of `count` values of `size` bytes; counts a .param may claim (up to
    /// Int.max) would overflow, and end past the file anyway.
    private func length(of count: Int, bytesEach size: Int, layer: String) throws -> Int {
        let (bytes, overflows) = count.multipliedReportingOverflow(by: size)
        guard !overflows, bytes <= data.count else { throw endsPastTheFile(layer) }
        return bytes
    }

    private func endsPastTheFile(_ layer: String) -> WeightsError {
        .truncated(path: path, detail: "weights of layer '\(layer)' end past the file")
    }

    private mutating func take(_ length: Int, layer: String) throws -> Data {
        guard length <= data.count - offset else { throw endsPastTheFile(layer) }
        let start = data.startIndex + offset
        offset += length
        return data[start ..< start + length]
    }
}

/// Tensors held in memory under names a model knows, e.g. an ncnn network's weights given
/// their upstream PyTorch names, so the model loads them as it loads a safetensors file.
public struct NamedTensorSource: ParameterSource {
    public let path: String
    private let tensors: [String: Tensor]

    public init(path: String, tensors: [String: Tensor]) {
        self.path = path
        self.tensors = tensors
    }

    public var keys: [String] { tensors.keys.sorted() }

    public func shape(of name: String) throws -> [Int] { try tensor(named: name).shape }

    public func tensor(named name: String) throws -> Tensor {
        guard let tensor = tensors[name] else { throw WeightsError.missingTensor(path: path, tensor: name) }
        return tensor
    }
}
