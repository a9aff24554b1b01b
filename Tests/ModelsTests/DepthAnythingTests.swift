import Foundation
import OverpaintTestSupport
import Testing
import Tensors
import Weights
@testable import Models

// Fixtures: tools/reference/depth_fixtures.py (a tiny random transformers
// DepthAnythingForDepthEstimation with a 5-layer Dinov2 backbone, out_indices [1, 3, 4, 5]).
private enum DepthFixtures {
    static let modelFolder = Fixtures.url("depth", "model")

    static func model() throws -> DepthAnythingForDepthEstimation {
        try DepthAnythingForDepthEstimation(folder: modelFolder)
    }

    static func cases() throws -> [String: Tensor] { try Fixtures.tensors("depth", "cases.safetensors") }

    static func tensor(_ name: String, in tensors: [String: Tensor]) throws -> Tensor {
        try #require(tensors[name], "fixture tensor \(name)")
    }
}

// The predicted depth is compared relative to its peak: near-zero depths come out of the final
// ReLU after cancellation of O(1) terms, so torch's own f32 result differs from its f64 one by
// 2e-4 relative to those values (3.6e-6 absolute); relative to the map's scale it agrees to ~5e-6.
@Suite struct DepthAnythingOpsTests {
    let ops: [String: Tensor]
    init() throws { ops = try Fixtures.tensors("depth", "ops.safetensors") }

    // f.interpolate(x, size=..., mode="bilinear", align_corners=True/False); scale_factor=2 likewise.
    @Test func bilinearMatchesTorch() throws {
        let x = try DepthFixtures.tensor("x", in: ops)
        expectRelativeError(TorchInterpolate.bilinear(x, height: 9, width: 11, alignCorners: true),
                    try DepthFixtures.tensor("bilinear_corners_9x11", in: ops), atMost: 1e-5)
        expectRelativeError(TorchInterpolate.bilinear(x, height: 10, width: 14, alignCorners: true),
                    try DepthFixtures.tensor("bilinear_corners_x2", in: ops), atMost: 1e-5)
        expectRelativeError(TorchInterpolate.bilinear(x, height: 3, width: 4, alignCorners: false),
                    try DepthFixtures.tensor("bilinear_3x4", in: ops), atMost: 1e-5)
        expectRelativeError(TorchInterpolate.bilinear(x, height: 8, width: 13, alignCorners: false),
                    try DepthFixtures.tensor("bilinear_8x13", in: ops), atMost: 1e-5)
    }

    // f.interpolate(x, size=..., mode="bicubic", align_corners=False), up and down.
    @Test func bicubicMatchesTorch() throws {
        let x = try DepthFixtures.tensor("x", in: ops)
        expectRelativeError(TorchInterpolate.bicubic(x, height: 8, width: 13), try DepthFixtures.tensor("bicubic_8x13", in: ops))
        expectRelativeError(TorchInterpolate.bicubic(x, height: 3, width: 4), try DepthFixtures.tensor("bicubic_3x4", in: ops))
    }

    // nn.ConvTranspose2d(3, 4, kernel_size=2, stride=2)(x)
    @Test func convTransposeMatchesTorch() throws {
        let source = InMemoryParameterSource(tensors: ["weight": try DepthFixtures.tensor("convt_weight", in: ops),
                                              "bias": try DepthFixtures.tensor("convt_bias", in: ops)])
        let convolution = try ConvTranspose2D(Parameters(source), inChannels: 3, outChannels: 4, kernelSize: 2, stride: 2)
        expectRelativeError(convolution(try DepthFixtures.tensor("x", in: ops)), try DepthFixtures.tensor("convt_2", in: ops),
                    atMost: 1e-5)
    }
}

@Suite struct DepthAnythingModelTests {
    let model: DepthAnythingForDepthEstimation
    let cases: [String: Tensor]

    init() throws {
        model = try DepthFixtures.model()
        cases = try DepthFixtures.cases()
    }

    // model.backbone.embeddings.interpolate_pos_encoding(zeros, h, w): bicubic from the trained
    // 4x4 grid to 3x4 and 5x2, and the trained grid itself at 56x56.
    @Test(arguments: [(42, 56), (56, 56), (70, 28)])
    func positionEmbeddingsInterpolateAsTransformers(height: Int, width: Int) throws {
        expectRelativeError(model.backbone.embeddings.positionEncoding(height: height, width: width),
                    try DepthFixtures.tensor("pos_\(height)x\(width)", in: cases))
    }

    // model.backbone(pixel_values).feature_maps
    @Test func backboneFeatureMapsMatch() throws {
        let features = model.backbone(try DepthFixtures.tensor("pixel_values", in: cases))
        #expect(features.count == 4)
        for (index, feature) in features.enumerated() {
            expectRelativeError(feature, try DepthFixtures.tensor("feature_\(index)", in: cases))
        }
    }

    // model.neck(feature_maps, 3, 4)
    @Test func neckMatches() throws {
        let features = try (0..<4).map { try DepthFixtures.tensor("feature_\($0)", in: cases) }
        let fused = model.neck(features, patchHeight: 3, patchWidth: 4)
        #expect(fused.count == 4)
        for (index, map) in fused.enumerated() {
            expectRelativeError(map, try DepthFixtures.tensor("neck_\(index)", in: cases))
        }
    }

    // model(pixel_values=pixel_values).predicted_depth
    @Test func predictedDepthMatches() throws {
        let depth = model(try DepthFixtures.tensor("pixel_values", in: cases))
        expectErrorRelativeToPeak(depth, try DepthFixtures.tensor("predicted_depth", in: cases))
    }

    // processor.post_process_depth_estimation(outputs, target_sizes=[(45, 60)])
    @Test func postProcessingResizesBicubically() throws {
        let resized = DepthAnythingImageProcessor.resizedDepth(try DepthFixtures.tensor("predicted_depth", in: cases),
                                                               width: 60, height: 45)
        expectRelativeError(resized, try DepthFixtures.tensor("resized_depth", in: cases))
    }

}

@Suite struct DepthAnythingProcessorTests {
    let processor: DepthAnythingImageProcessor

    init() throws {
        processor = try DepthAnythingImageProcessor.load(folder: DepthFixtures.modelFolder)
    }

    // transformers' get_resize_output_image_size with size 56, keep_aspect_ratio, multiple of 14:
    // 60x45 -> scale 56/60 (nearer 1) -> 56 x 42.
    @Test func outputSizeFollowsTransformers() {
        #expect(processor.outputSize(width: 60, height: 45) == (56, 42))
        // Depth Anything's own config on a 640x480 photo: scale 518/480 -> 690.7 -> 49.3 x 14, 518.
        #expect(DepthAnythingImageProcessor.depthAnything.outputSize(width: 640, height: 480) == (686, 518))
        // A small square image: both sides scaled to 518.
        #expect(DepthAnythingImageProcessor.depthAnything.outputSize(width: 64, height: 64) == (518, 518))
    }
}

@Suite struct DepthAnythingLoadingTests {
    // DepthAnythingConfig() in transformers: the ViT-S/14 backbone at 518, stages 9...12.
    @Test func emptyConfigTakesTransformersDefaults() throws {
        let config = try JSONDecoder().decode(DepthAnythingConfig.self, from: Data("{\"max_depth\": null}".utf8))
        #expect(config.backboneConfig.hiddenSize == 384)
        #expect(config.backboneConfig.numAttentionHeads == 6)
        #expect(config.backboneConfig.imageSize == 518)
        #expect(config.backboneConfig.outputStages == [9, 10, 11, 12])
        #expect(config.neckHiddenSizes == [48, 96, 192, 384])
        #expect(config.reassembleFactors == [4, 2, 1, 0.5])
        #expect(config.fusionHiddenSize == 64 && config.headHiddenSize == 32 && config.maxDepth == 1)
        #expect(config.unsupportedFeature == nil)
    }

    // transformers 5 names the attention projections q_proj...o_proj in memory; either layout loads.
    @Test func loadsTheInMemoryAttentionNames() throws {
        let config = try DepthAnythingConfig.load(from: DepthFixtures.modelFolder.appendingPathComponent("config.json"))
        let store = try WeightStore(url: DepthFixtures.modelFolder)
        var renamed: [String: Tensor] = [:]
        for key in store.keys {
            let name = key.replacingOccurrences(of: "attention.attention.query", with: "attention.q_proj")
                .replacingOccurrences(of: "attention.attention.key", with: "attention.k_proj")
                .replacingOccurrences(of: "attention.attention.value", with: "attention.v_proj")
                .replacingOccurrences(of: "attention.output.dense", with: "attention.o_proj")
            renamed[name] = try store.tensor(named: key)
        }
        #expect(renamed.keys.contains("backbone.encoder.layer.0.attention.q_proj.weight"))
        let model = try DepthAnythingForDepthEstimation(config: config, source: InMemoryParameterSource(tensors: renamed))
        let cases = try DepthFixtures.cases()
        expectErrorRelativeToPeak(model(try DepthFixtures.tensor("pixel_values", in: cases)),
                           try DepthFixtures.tensor("predicted_depth", in: cases))
    }

    @Test func missingTensorIsNamed() throws {
        let config = try DepthAnythingConfig.load(from: DepthFixtures.modelFolder.appendingPathComponent("config.json"))
        let store = try WeightStore(url: DepthFixtures.modelFolder)
        var tensors: [String: Tensor] = [:]
        for key in store.keys where key != "head.conv3.bias" { tensors[key] = try store.tensor(named: key) }
        #expect(throws: ModelsError.missingTensor(path: "memory", tensor: "head.conv3.bias")) {
            try DepthAnythingForDepthEstimation(config: config, source: InMemoryParameterSource(tensors: tensors))
        }
    }

    @Test func swigluBackboneIsRefused() throws {
        var config = DepthAnythingConfig()
        config.backboneConfig.useSwigluFfn = true
        #expect(throws: ModelsError.self) {
            try DepthAnythingForDepthEstimation(config: config, source: InMemoryParameterSource(tensors: [:]))
        }
    }
}
