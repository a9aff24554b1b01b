import Foundation
import Testing
@testable import Recipes

/// The inpaint edit's `area: masked` working size and fill modes.
@Suite struct InpaintOptionsTests {
    func parse(_ edit: String) throws -> Edit.Inpaint {
        let yaml = """
        model: /models/sd
        match: {images: ["*.png"], mask: "masks/{stem}.png"}
        edits:
          - inpaint: \(edit)
        """
        let recipe = try RecipeParsing.parse(yaml)
        guard case .inpaint(let inpaint) = recipe.edits.first else { throw CocoaError(.fileReadCorruptFile) }
        return inpaint
    }

    @Test func workingSizeIsReadWhenGiven() throws {
        let inpaint = try parse(#"{prompt: "x", area: masked, padding: 8, width: 320, height: 256, fill: noise}"#)
        #expect(inpaint.area == .masked && inpaint.padding == 8 && inpaint.fill == .noise)
        #expect(inpaint.width == 320 && inpaint.height == 256)
    }

    @Test func workingSizeDefaultsToTheModels() throws {
        let inpaint = try parse(#"{prompt: "x", area: masked}"#)
        #expect(inpaint.width == nil && inpaint.height == nil && inpaint.fill == .original && inpaint.padding == 32)
    }

    @Test func workingSizeOutOfRangeIsReported() {
        #expect(throws: RecipeError.self) { try parse(#"{prompt: "x", width: 4}"#) }
    }
}
