import Foundation
import OverpaintTestSupport
import Testing
import Tensors
import Weights
@testable import Models

// Fixtures: tools/reference/clip_text_fixtures.py (transformers 5.24 CLIPTextModel, float32, CPU).
// Tolerance: max |swift - torch| over the whole tensor, relative to max |torch|, at most 1e-4.
// Measured on the dev machine: at most 3.9e-7 (quick_gelu) and 5.3e-7 (gelu) relative.
private let relativeTolerance: Float = 1e-4

private func referenceIO() throws -> WeightStore { try WeightStore(url: Fixtures.url("clip-text", "io.safetensors")) }

/// The fixture's ids (stored as float32, exact below 2^24) as rows of Int32.
private func inputIDs(_ model: String) throws -> [[Int32]] {
    let ids = try referenceIO().tensor(named: "\(model).input_ids")
    let length = ids.shape[1]
    return (0..<ids.shape[0]).map { row in ids.scalars[row * length ..< (row + 1) * length].map { Int32($0) } }
}

/// The fixture model `name` of clip-text/ and its fixture's input ids.
private func fixtureModel(_ name: String) throws -> (CLIPTextModel, ids: [[Int32]]) {
    (try CLIPTextModel(folder: Fixtures.url("clip-text", name)), try inputIDs(name))
}

private func expectMatchesReference(_ actual: Tensor, _ reference: String) throws {
    let expected = try referenceIO().tensor(named: reference)
    let error = maxErrorRelativeToPeak(actual, expected)
    #expect(error <= relativeTolerance, "\(reference): relative error \(error), shapes \(actual.shape) vs \(expected.shape)")
}

private func quickGELUCheckpoint() throws -> (CLIPTextConfig, InMemoryParameterSource) {
    let folder = Fixtures.url("clip-text", "quick_gelu")
    let config = try CLIPTextConfig.load(from: folder.appendingPathComponent("config.json"))
    let store = try WeightStore(url: folder)
    let tensors = try Dictionary(uniqueKeysWithValues: store.keys.map { ($0, try store.tensor(named: $0)) })
    return (config, InMemoryParameterSource(tensors: tensors, path: "memory.safetensors"))
}

private func loadError(_ config: CLIPTextConfig, _ source: InMemoryParameterSource) -> ModelsError? {
    do {
        _ = try CLIPTextModel(config: config, source: source)
        return nil
    } catch {
        return error as? ModelsError
    }
}

@Suite("CLIPTextModel")
struct CLIPTextModelTests {
    @Test("quick_gelu (SD 1.x style, text_model. keys): states, pooled at the largest id, clip skip 1")
    func quickGELUParity() throws {
        let (model, ids) = try fixtureModel("quick_gelu")
        #expect(model.config.hiddenAct == .quickGELU)
        #expect(model.config.eosTokenId == 2)
        let output = model(ids, outputHiddenStates: true)
        try expectMatchesReference(output.lastHiddenState, "quick_gelu.last_hidden_state")
        try expectMatchesReference(output.pooledOutput, "quick_gelu.pooled")
        #expect(output.hiddenStates?.count == 3)
        try expectMatchesReference(model.promptEmbeddings(ids, clipSkip: 1), "quick_gelu.clip_skip_1")
        try expectMatchesReference(model.promptEmbeddings(ids), "quick_gelu.last_hidden_state")
    }

    @Test("gelu (SD 2.x style, unprefixed keys): states, pooled at the first eos, clip skip 2")
    func geluParity() throws {
        let (model, ids) = try fixtureModel("gelu")
        #expect(model.config.hiddenAct == .gelu)
        #expect(model.config.eosTokenId == 100)
        let output = model(ids)
        #expect(output.hiddenStates == nil)
        try expectMatchesReference(output.lastHiddenState, "gelu.last_hidden_state")
        try expectMatchesReference(output.pooledOutput, "gelu.pooled")
        try expectMatchesReference(model.promptEmbeddings(ids, clipSkip: 2), "gelu.clip_skip_2")
    }

    @Test("a causal mask: later tokens never change earlier states")
    func causality() throws {
        let (model, rows) = try fixtureModel("quick_gelu")
        let ids = rows[0]
        var changed = ids
        changed[10] = 7
        let states = model([ids, changed]).lastHiddenState
        // Rows of one GEMM may round differently by their place in the BLAS tiles, hence a tolerance.
        let positionWidth = model.config.hiddenSize
        let secondStart = 77 * positionWidth
        func largestDifference(_ positions: Range<Int>) -> Float {
            positions.flatMap { position in
                (0..<positionWidth).map { column in
                    let index = position * positionWidth + column
                    return abs(states.scalars[index] - states.scalars[secondStart + index])
                }
            }.max() ?? .infinity
        }
        #expect(largestDifference(0..<10) < 1e-5)
        #expect(largestDifference(10..<11) > 1e-2)
    }

    @Test("SD 2's OpenCLIP-H config decodes and asks for its 372 tensors")
    func openCLIPHConfig() throws {
        let json = """
        {"architectures": ["CLIPTextModel"], "hidden_act": "gelu", "hidden_size": 1024,
         "intermediate_size": 4096, "num_attention_heads": 16, "num_hidden_layers": 23,
         "max_position_embeddings": 77, "vocab_size": 49408, "layer_norm_eps": 1e-05,
         "projection_dim": 512, "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1}
        """
        let config = try JSONDecoder().decode(CLIPTextConfig.self, from: Data(json.utf8))
        #expect(config.hiddenAct == .gelu && config.hiddenSize == 1024 && config.numHiddenLayers == 23)
        let shapes = Dictionary(uniqueKeysWithValues: ParameterLayout.textEncoder(config))
        #expect(shapes.count == 372)
        #expect(shapes["encoder.layers.22.mlp.fc1.weight"] == [4096, 1024])
        #expect(shapes["embeddings.token_embedding.weight"] == [49408, 1024])
        #expect(shapes["final_layer_norm.bias"] == [1024])
    }

    @Test("the position_ids buffer is ignored")
    func positionIDsIgnored() throws {
        var (config, source) = try quickGELUCheckpoint()
        source.tensors["text_model.embeddings.position_ids"] = Tensor(zeros: [1, 77])
        #expect(loadError(config, source) == nil)
    }

    @Test("a missing tensor is named")
    func missingTensor() throws {
        var (config, source) = try quickGELUCheckpoint()
        source.tensors["text_model.encoder.layers.1.mlp.fc2.bias"] = nil
        let error = try #require(loadError(config, source))
        #expect(error == .missingTensor(path: "memory.safetensors", tensor: "text_model.encoder.layers.1.mlp.fc2.bias"))
        #expect(error.errorDescription?.contains("'text_model.encoder.layers.1.mlp.fc2.bias'") == true)
    }

    @Test("a mis-shaped tensor is named with both shapes")
    func wrongShape() throws {
        var (config, source) = try quickGELUCheckpoint()
        source.tensors["text_model.encoder.layers.0.self_attn.k_proj.weight"] = Tensor(zeros: [32, 31])
        let error = try #require(loadError(config, source))
        #expect(error == .shapeMismatch(path: "memory.safetensors", tensor: "text_model.encoder.layers.0.self_attn.k_proj.weight",
                                        expected: [32, 32], found: [32, 31]))
    }

    @Test("an unexpected tensor is named")
    func unexpectedTensor() throws {
        var (config, source) = try quickGELUCheckpoint()
        source.tensors["text_model.encoder.layers.2.mlp.fc1.weight"] = Tensor(zeros: [37, 32])
        let error = try #require(loadError(config, source))
        #expect(error == .unexpectedTensors(path: "memory.safetensors",
                                            tensors: ["text_model.encoder.layers.2.mlp.fc1.weight"], count: 1))
    }

    @Test("a config that does not fit the checkpoint fails on the first differing tensor read")
    func configMismatch() throws {
        var (config, source) = try quickGELUCheckpoint()
        config.intermediateSize = 64
        let error = try #require(loadError(config, source))
        #expect(error == .shapeMismatch(path: "memory.safetensors", tensor: "text_model.encoder.layers.0.mlp.fc1.weight",
                                        expected: [64, 32], found: [37, 32]))
    }

    @Test("an unknown activation or an unsplittable width is a one-line config error naming the file")
    func badConfig() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("clip-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("config.json")
        for json in [#"{"hidden_act": "relu"}"#, #"{"hidden_size": 30, "num_attention_heads": 4}"#] {
            try Data(json.utf8).write(to: url)
            #expect {
                _ = try CLIPTextConfig.load(from: url)
            } throws: { error in
                guard case let .badConfig(path, detail) = error as? ModelsError else { return false }
                return path == url.path && !detail.isEmpty && !detail.contains("\n")
            }
        }
    }
}
