/// A VAE given as one `.safetensors` file, seen under diffusers names: the LDM layout with no
/// prefix (how the ft-MSE / kl-f8 VAEs users add to A1111 ship: `encoder.down.0.block.0...`), a
/// whole LDM checkpoint's `first_stage_model.*`, or diffusers' own names.
public enum SingleFileVAE {
    public static func source(_ file: SafeTensorsFile) throws -> any ParameterSource {
        let keys = file.keys
        if keys.contains(where: { $0.hasPrefix(LDMPrefix.vae) }) {
            return try SingleFileCheckpoint(file: file).vae()
        }
        if keys.contains(where: { $0.hasPrefix("encoder.down_blocks.") || $0.hasPrefix("decoder.up_blocks.") }) {
            return file
        }
        guard keys.contains(where: { $0.hasPrefix("decoder.up.") }) else {
            throw WeightsError.unrecognizedLayout(
                path: file.path, detail: "not a VAE: no encoder / decoder tensors; first key is '\(keys.first ?? "none")'")
        }
        let upBlocks = Set(keys.compactMap { SingleFileCheckpoint.index(after: "decoder.up.", in: $0) }).count
        return RenamedParameterSource(file) { LDMKeyMap.vae($0, upBlockCount: upBlocks) }
    }
}
