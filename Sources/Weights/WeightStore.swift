import Foundation
import Tensors

/// Tensors by name from one or more safetensors files: a single file, a diffusers component
/// folder, or a sharded checkpoint described by a `*.safetensors.index.json`.
public final class WeightStore: ParameterSource, @unchecked Sendable {
    // @unchecked: immutable after init; the files are themselves read-only mappings.
    public let path: String
    public let files: [SafeTensorsFile]
    private let fileForKey: [String: SafeTensorsFile]
    public let keys: [String]

    /// The weights file names diffusers and transformers save, in the order they are preferred.
    static let standardWeightNames = ["diffusion_pytorch_model.safetensors", "model.safetensors"]

    /// Opens `url`: a `.safetensors` file, a `.safetensors.index.json`, or a component folder
    /// holding one of those.
    public convenience init(url: URL) throws {
        let resolved = try Self.resolveWeightsFile(url)
        if resolved.lastPathComponent.hasSuffix(".index.json") {
            try self.init(indexURL: resolved)
        } else {
            try self.init(files: [SafeTensorsFile(url: resolved)], path: resolved.path)
        }
    }

    /// Combines files; a tensor name found in two files is an error.
    public init(files: [SafeTensorsFile], path: String) throws {
        var fileForKey: [String: SafeTensorsFile] = [:]
        for file in files {
            for key in file.keys {
                if fileForKey[key] != nil {
                    throw WeightsError.badHeader(path: file.path, detail: "tensor '\(key)' is also in another shard")
                }
                fileForKey[key] = file
            }
        }
        self.path = path
        self.files = files
        self.fileForKey = fileForKey
        keys = fileForKey.keys.sorted()
    }

    public func shape(of name: String) throws -> [Int] { try file(for: name).shape(of: name) }

    public func tensor(named name: String) throws -> Tensor { try file(for: name).tensor(named: name) }

    public func halfTensor(named name: String) throws -> HalfTensor? { try file(for: name).halfTensor(named: name) }

    private func file(for name: String) throws -> SafeTensorsFile {
        guard let file = fileForKey[name] else { throw WeightsError.missingTensor(path: path, tensor: name) }
        return file
    }

    /// Opens the shards named by an index file's `weight_map` and checks each tensor is where the
    /// index says.
    private convenience init(indexURL: URL) throws {
        let weightMap = try Self.readWeightMap(indexURL)
        let folder = indexURL.deletingLastPathComponent()
        var files: [SafeTensorsFile] = []
        for shard in Set(weightMap.values).sorted() {
            guard !shard.contains("/"), !shard.hasPrefix(".") else {
                throw WeightsError.badConfig(path: indexURL.path, detail: "shard name '\(shard)' leaves the folder")
            }
            files.append(try SafeTensorsFile(url: folder.appendingPathComponent(shard)))
        }
        try self.init(files: files, path: indexURL.path)
        for (key, shard) in weightMap where fileForKey[key]?.url.lastPathComponent != shard {
            throw WeightsError.missingTensor(path: folder.appendingPathComponent(shard).path, tensor: key)
        }
    }

    private static func readWeightMap(_ url: URL) throws -> [String: String] {
        let data = try regularFileContents(url)
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let weightMap = object["weight_map"] as? [String: String]
        else {
            throw WeightsError.badConfig(path: url.path, detail: "index has no weight_map of names to shard files")
        }
        return weightMap
    }

    /// The file to open for `url`, refusing pickles (by name or content) on the way.
    static func resolveWeightsFile(_ url: URL) throws -> URL {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            // Not a folder: opening the file says whether it is missing, a dangling link, a FIFO...
            try PickleGuard.refusePickle(url)
            return url
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        for standard in standardWeightNames {
            if names.contains(standard + ".index.json") { return url.appendingPathComponent(standard + ".index.json") }
            if names.contains(standard) { return url.appendingPathComponent(standard) }
        }
        let safetensors = names.filter { $0.hasSuffix(".safetensors") }.sorted()
        if safetensors.count == 1 { return url.appendingPathComponent(safetensors[0]) }
        if let pickle = names.sorted().first(where: { PickleGuard.hasPickleExtension(URL(fileURLWithPath: $0)) }) {
            throw WeightsError.pickleRefused(path: url.appendingPathComponent(pickle).path)
        }
        let detail = safetensors.isEmpty ? "no .safetensors weights in the folder"
            : "several .safetensors files and no index: \(safetensors.joined(separator: ", "))"
        throw WeightsError.unrecognizedLayout(path: url.path, detail: detail)
    }
}
