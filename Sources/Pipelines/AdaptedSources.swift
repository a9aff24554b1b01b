import Adapters
import Weights

/// A Stable Diffusion checkpoint's UNet and text encoder weights with LoRA / LyCORIS adapters fused
/// in (`AdapterFusion`): the sources the models are then built from, strictly, as without adapters.
struct AdaptedSources {
    let unet: any ParameterSource
    let textEncoder: any ParameterSource

    init(unet: any ParameterSource, textEncoder: any ParameterSource, adapters: [WeightedAdapter]) throws {
        let fused = try AdapterFusion.fuse(adapters, into: [.unet: unet, .textEncoder: textEncoder])
        self.unet = fused[.unet] ?? unet
        self.textEncoder = fused[.textEncoder] ?? textEncoder
    }
}
