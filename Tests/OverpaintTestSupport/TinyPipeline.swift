import Foundation

/// A user's model folder inside `folder`, named as `source`, made of links to the entries of the
/// fixture folder `source`, with `replacements` (entry name -> fixture) linked in their place or
/// beside them: the fixtures are stored once and never copied.
public func linkedModelFolder(in folder: URL, from source: URL, replacing replacements: [String: URL] = [:]) throws -> URL {
    let manager = FileManager.default
    let model = folder.appendingPathComponent(source.lastPathComponent)
    try manager.createDirectory(at: model, withIntermediateDirectories: true)
    var entries: [String: URL] = [:]
    for name in try manager.contentsOfDirectory(atPath: source.path) { entries[name] = source.appendingPathComponent(name) }
    entries.merge(replacements) { _, replacement in replacement }
    for (name, target) in entries {
        try manager.createSymbolicLink(at: model.appendingPathComponent(name), withDestinationURL: target)
    }
    return model
}

/// The tiny diffusers pipeline of Tests/Fixtures/pipelines (tools/reference/pipeline_fixtures.py)
/// with the real CLIP tokenizer, as `folder/sd-tiny`; `unet` names another UNet fixture of
/// pipelines/ (such as "unet-inpaint") to use in place of its own.
public func tinyPipelineFolder(in folder: URL, unet: String? = nil) throws -> URL {
    var replacements = ["tokenizer": Fixtures.root.appendingPathComponent("clip-tokenizer")]
    if let unet { replacements["unet"] = Fixtures.url("pipelines", unet) }
    return try linkedModelFolder(in: folder, from: Fixtures.url("pipelines", "sd-tiny"), replacing: replacements)
}

/// The tiny x4 upscaler of Tests/Fixtures/upscaler (tools/reference/x4_upscaler_fixtures.py)
/// with sd-tiny's text encoder and the real CLIP tokenizer, as `folder/x4-tiny`.
public func tinyUpscalerFolder(in folder: URL) throws -> URL {
    try linkedModelFolder(in: folder, from: Fixtures.url("upscaler", "x4-tiny"), replacing: [
        "text_encoder": Fixtures.url("pipelines", "sd-tiny/text_encoder"),
        "tokenizer": Fixtures.root.appendingPathComponent("clip-tokenizer"),
    ])
}

/// The tiny SDXL pipeline of Tests/Fixtures/sdxl (tools/reference/sdxl_fixtures.py) with the real
/// CLIP vocabulary in tokenizer/ and tokenizer_2/, as `folder/sdxl-tiny`; `inpainting` takes
/// the 9-channel `unet-inpaint` as its UNet.
public func tinySDXLFolder(in folder: URL, inpainting: Bool = false) throws -> URL {
    var replacements = [
        "tokenizer": Fixtures.root.appendingPathComponent("clip-tokenizer"),
        "tokenizer_2": try sdxlSecondTokenizerFolder(in: folder),
    ]
    if inpainting { replacements["unet"] = Fixtures.url("sdxl", "unet-inpaint") }
    return try linkedModelFolder(in: folder, from: Fixtures.url("sdxl", "sdxl-tiny"), replacing: replacements)
}

/// The tiny SDXL pipeline's tokenizer_2 as `folder/tokenizer_2`: its own settings (pad token
/// "!") with the shared CLIP vocabulary, which the fixtures store once.
public func sdxlSecondTokenizerFolder(in folder: URL) throws -> URL {
    let vocabulary = Fixtures.root.appendingPathComponent("clip-tokenizer")
    return try linkedModelFolder(in: folder, from: Fixtures.url("sdxl", "sdxl-tiny/tokenizer_2"), replacing: [
        "vocab.json": vocabulary.appendingPathComponent("vocab.json"),
        "merges.txt": vocabulary.appendingPathComponent("merges.txt"),
    ])
}

/// The tiny SDXL refiner of Tests/Fixtures/sdxl-refiner (tools/reference/sdxl_refiner_fixtures.py)
/// with the shared CLIP vocabulary in tokenizer_2/, as `folder/refiner-tiny` (its tokenizer_2
/// links kept apart from `tinySDXLFolder`'s).
public func tinySDXLRefinerFolder(in folder: URL) throws -> URL {
    let vocabulary = Fixtures.root.appendingPathComponent("clip-tokenizer")
    let tokenizer = try linkedModelFolder(in: folder.appendingPathComponent("refiner-tokenizer"), from: Fixtures.url("sdxl-refiner", "refiner-tiny/tokenizer_2"), replacing: [
        "vocab.json": vocabulary.appendingPathComponent("vocab.json"),
        "merges.txt": vocabulary.appendingPathComponent("merges.txt"),
    ])
    return try linkedModelFolder(in: folder, from: Fixtures.url("sdxl-refiner", "refiner-tiny"),
                                 replacing: ["tokenizer_2": tokenizer])
}
