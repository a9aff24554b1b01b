/// The weight tensors of one model component by the names adapter files give their modules.
///
/// kohya names are the module's path with every dot an underscore (that is how sd-scripts makes
/// them from the diffusers / transformers modules), so matching both layouts against the model's
/// own names, dots made underscores alike, finds exactly the modules their trainers adapted, with
/// no hand-written table to fall behind. Text encoder names are compared without transformers'
/// `text_model.` prefix, which checkpoints may or may not carry.
struct ModuleIndex {
    private let weightKeys: [String: String]

    init(keys: [String], component: AdapterComponent) {
        var weightKeys: [String: String] = [:]
        for key in keys where key.hasSuffix(".weight") {
            weightKeys[Self.canonical(String(key.dropLast(".weight".count)), component: component)] = key
        }
        self.weightKeys = weightKeys
    }

    /// The model's weight key for an adapter's module name, if it has that module.
    func weightKey(for module: String, component: AdapterComponent) -> String? {
        weightKeys[Self.canonical(module, component: component)]
    }

    static func canonical(_ name: String, component: AdapterComponent) -> String {
        var name = name.replacingOccurrences(of: ".", with: "_")
        if component != .unet, name.hasPrefix("text_model_") { name.removeFirst("text_model_".count) }
        return name
    }
}
