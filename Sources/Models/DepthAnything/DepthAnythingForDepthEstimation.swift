import Tensors
import Weights

/// A Depth Anything (V1 or V2) monocular depth estimator: a Dinov2 ViT backbone, a DPT neck
/// and a convolutional head, predicting relative inverse depth (larger is nearer).
///
/// This implementation matches: [transformers DepthAnythingForDepthEstimation](https://github.com/huggingface/transformers/blob/main/src/transformers/models/depth_anything/modeling_depth_anything.py)
/// with a `Dinov2Backbone`, loaded strictly from a transformers folder (config.json and
/// model.safetensors, e.g. depth-anything/Depth-Anything-V2-Small-hf).
///
/// Limitations: Dinov2 backbones only (no named timm backbones, no SwiGLU MLP of the giant
/// models); no masked patches.
public struct DepthAnythingForDepthEstimation: PretrainedModel, Sendable {
    public let config: DepthAnythingConfig
    public let backbone: Dinov2Backbone
    public let neck: DepthAnythingNeck
    public let head: DepthAnythingDepthEstimationHead

    /// Builds the model from weights with transformers' key names; every tensor must be used.
    public init(config: DepthAnythingConfig, source: any ParameterSource) throws {
        try config.checkSupported(weightsPath: source.path)
        let parameters = Parameters(source)
        self.config = config
        backbone = try Dinov2Backbone(parameters.scoped("backbone"), config: config.backboneConfig)
        neck = try DepthAnythingNeck(parameters.scoped("neck"), config: config)
        head = try DepthAnythingDepthEstimationHead(parameters.scoped("head"), config: config)
        try parameters.checkAllUsed()
    }

    /// The predicted depth at the input's size (rounded down to whole patches).
    // pixelValues: [B, 3, H, W], normalised as the image processor makes them -> [B, H', W']
    public func callAsFunction(_ pixelValues: Tensor) -> Tensor {
        let (patchHeight, patchWidth) = (pixelValues.shape[2] / config.patchSize, pixelValues.shape[3] / config.patchSize)
        let features = backbone(pixelValues)
        let fused = neck(features, patchHeight: patchHeight, patchWidth: patchWidth)
        return head(fused, patchHeight: patchHeight, patchWidth: patchWidth)
    }
}
