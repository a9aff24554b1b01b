import Foundation
import Recipes

private let loader = RecipeLoader(environment: ["HOME": "/home/fuzz"], checkFiles: false)
private let source = URL(fileURLWithPath: "/fuzz/recipe.yaml")

/// Reads the input as a recipe's YAML, with every check but those of model paths on disk.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRecipe(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? loader.parse(text, source: source)
    return 0
}
