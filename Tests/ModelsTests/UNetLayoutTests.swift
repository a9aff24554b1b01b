import Foundation
import OverpaintTestSupport
import Testing
import Tensors
import Weights
@testable import Models

/// The SD 1.5 topology (4 levels, 2 layers per block, 3 cross-attention levels) at narrow
/// widths, from tools/reference/unet_fixtures.py write_sd15_layout():
/// `UNet2DConditionModel(sample_size=8, cross_attention_dim=16,
///  block_out_channels=(32, 64, 128, 128), norm_num_groups=8, attention_head_dim=8).state_dict()`.
struct UNetLayoutTests {
    struct Layout: Decodable {
        let shapes: [String: [Int]]
    }

    @Test func readsEveryTensorOfTheSD15Layout() throws {
        let data = try Fixtures.data("unet", "sd15_layout.json")
        let layout = try JSONDecoder().decode(Layout.self, from: data)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let configData = try JSONSerialization.data(withJSONObject: try #require(object["config"]))
        let config = try JSONDecoder().decode(UNet2DConditionConfig.self, from: configData)
        #expect(layout.shapes.count == 686)

        // Strict: a missing, misshapen or unread tensor throws.
        let model = try UNet2DConditionModel(config: config, source: ZeroParameterSource(shapes: layout.shapes, path: "sd15_layout.json"))
        #expect(model.downBlocks.count == 4 && model.upBlocks.map(\.resnetCount) == [3, 3, 3, 3])

        let output = model(sample: Tensor(zeros: [1, 4, 8, 8]), timestep: 10,
                           encoderHiddenStates: Tensor(zeros: [1, 3, 16]))
        #expect(output.shape == [1, 4, 8, 8])
    }
}
