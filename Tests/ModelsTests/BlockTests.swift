import Foundation
import OverpaintTestSupport
import Testing
import Tensors
import Weights
@testable import Models

/// ResnetBlock2D, Downsample2D, Upsample2D and Attention against diffusers
/// (tools/reference/vae_fixtures.py, blocks.safetensors + block_io.safetensors).
struct BlockTests {
    let weights: Parameters
    let io: FixtureTensors

    init() throws {
        weights = Parameters(try Fixtures.store("vae", "blocks.safetensors"))
        io = try FixtureTensors("vae", "block_io.safetensors")
    }

    /// Runs `body` on the case's input and checks it against the case's output, and that the
    /// block read every weight under its prefix.
    private func check(_ name: String, _ parameters: Parameters, _ body: (Tensor) throws -> Tensor) throws {
        let output = try body(try io.tensor("\(name).input"))
        expectRelativeError(output, try io.tensor("\(name).output"))
        try parameters.checkAllUsed()
    }

    @Test func resnetWithTimeEmbeddingAndShortcut() throws {
        let parameters = weights.scoped("resnet_temb")
        let block = try ResnetBlock2D(parameters, inChannels: 8, outChannels: 16, tembChannels: 12, groups: 4)
        #expect(block.convShortcut != nil)
        let temb = try io.tensor("resnet_temb.temb")
        try check("resnet_temb", parameters) { block($0, temb: temb) }
    }

    @Test func resnetWithoutTimeEmbeddingScalesOutput() throws {
        let parameters = weights.scoped("resnet_plain")
        let block = try ResnetBlock2D(parameters, inChannels: 8, outChannels: 8, tembChannels: nil, groups: 4,
                                      outputScaleFactor: 2)
        try check("resnet_plain", parameters) { block($0) }
    }

    @Test func resnetScaleShift() throws {
        let parameters = weights.scoped("resnet_scale_shift")
        let block = try ResnetBlock2D(parameters, inChannels: 8, outChannels: 8, tembChannels: 12, groups: 4,
                                      groupsOut: 2, eps: 1e-6, timeEmbeddingNorm: .scaleShift)
        let temb = try io.tensor("resnet_scale_shift.temb")
        try check("resnet_scale_shift", parameters) { block($0, temb: temb) }
    }

    /// Padding 1 on every side, and padding 0, for which diffusers pads right and bottom by one.
    @Test(arguments: [("down_pad1", 1), ("down_pad0", 0)])
    func downsampleWithSymmetricOrAsymmetricPadding(_ name: String, padding: Int) throws {
        let parameters = weights.scoped(name)
        let block = try Downsample2D(parameters, channels: 8, padding: padding)
        try check(name, parameters) { block($0) }
    }

    @Test func upsampleTwice() throws {
        let parameters = weights.scoped("up")
        let block = try Upsample2D(parameters, channels: 8, outChannels: 4)
        try check("up", parameters) { block($0) }
    }

    @Test func upsampleToGivenSize() throws {
        let parameters = weights.scoped("up_sized")
        let block = try Upsample2D(parameters, channels: 8)
        try check("up_sized", parameters) { block($0, outputSize: (height: 7, width: 9)) }
    }

    @Test func spatialAttentionWithGroupNormAndResidual() throws {
        let parameters = weights.scoped("attn_spatial")
        let block = try Attention(parameters, queryDim: 16, heads: 1, dimHead: 16, bias: true, normNumGroups: 4,
                                  eps: 1e-6, residualConnection: true, rescaleOutputFactor: 1.5)
        try check("attn_spatial", parameters) { block.spatial($0) }
    }

    @Test func crossAttention() throws {
        let parameters = weights.scoped("attn_cross")
        let block = try Attention(parameters, queryDim: 16, crossAttentionDim: 12, heads: 2, dimHead: 8)
        let context = try io.tensor("attn_cross.context")
        try check("attn_cross", parameters) { block($0, encoderHiddenStates: context) }
    }

    @Test func selfAttentionOnTokensWithGroupNorm() throws {
        let parameters = weights.scoped("attn_self")
        let block = try Attention(parameters, queryDim: 16, heads: 4, dimHead: 4, bias: true, normNumGroups: 4,
                                  residualConnection: true)
        try check("attn_self", parameters) { block($0) }
    }

    @Test func wrongShapeNamesTheFullKey() throws {
        let error = #expect(throws: ModelsError.self) {
            try ResnetBlock2D(weights.scoped("resnet_plain"), inChannels: 8, outChannels: 16, tembChannels: nil, groups: 4)
        }
        #expect(error?.errorDescription?.contains("'resnet_plain.conv1.weight'") == true)
    }

    @Test func unusedWeightsAreReported() throws {
        let parameters = weights.scoped("resnet_temb")
        _ = try Conv2D(parameters.scoped("conv1"), inChannels: 8, outChannels: 16, kernelSize: 3)
        let error = #expect(throws: ModelsError.self) { try parameters.checkAllUsed() }
        #expect(error?.errorDescription?.contains("resnet_temb.") == true)
    }
}
