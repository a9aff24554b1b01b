/// A path template such as `masks/{stem}.png`, expanded per input image.
///
/// Placeholders: `{stem}` file name without extension, `{name}` file name, `{ext}` extension
/// without the dot, `{dir}` the image's folder relative to `--input` (empty at the top).
public struct Template: Sendable, Equatable, CustomStringConvertible {
    public static let placeholders = ["stem", "name", "ext", "dir"]

    enum Piece: Sendable, Equatable {
        case literal(String)
        case placeholder(String)
    }

    public let description: String
    let pieces: [Piece]

    /// Parses `text`; throws the problem as a sentence when a brace is unbalanced or a
    /// placeholder is unknown.
    public init(_ text: String) throws(TemplateError) {
        var pieces: [Piece] = []
        var literal = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(where: { $0 == "{" || $0 == "}" }) {
            guard rest[open] == "{" else { throw .unbalancedBrace }
            literal += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else { throw .unbalancedBrace }
            let name = String(rest[rest.index(after: open)..<close])
            guard Template.placeholders.contains(name) else { throw .unknownPlaceholder(name) }
            if !literal.isEmpty { pieces.append(.literal(literal)) }
            literal = ""
            pieces.append(.placeholder(name))
            rest = rest[rest.index(after: close)...]
        }
        literal += rest
        if !literal.isEmpty { pieces.append(.literal(literal)) }
        self.description = text
        self.pieces = pieces
    }

    /// Expands the template for an image at `relativePath` (relative to `--input`, `/`-separated).
    public func expand(forImageAt relativePath: String) -> String {
        let slash = relativePath.lastIndex(of: "/")
        let name = slash.map { String(relativePath[relativePath.index(after: $0)...]) } ?? relativePath
        let dir = slash.map { String(relativePath[..<$0]) } ?? ""
        let dot = name.lastIndex(of: ".").flatMap { $0 == name.startIndex ? nil : $0 }
        let stem = dot.map { String(name[..<$0]) } ?? name
        let ext = dot.map { String(name[name.index(after: $0)...]) } ?? ""
        var result = pieces.map { piece -> String in
            switch piece {
            case .literal(let text): text
            case .placeholder("stem"): stem
            case .placeholder("name"): name
            case .placeholder("ext"): ext
            case .placeholder(_): dir
            }
        }.joined()
        // `{dir}/x` for a top-level image reads as `/x`; it means `x`.
        while result.hasPrefix("/") && dir.isEmpty && pieces.first == .placeholder("dir") {
            result.removeFirst()
        }
        return result
    }
}

public enum TemplateError: Error, Equatable, CustomStringConvertible {
    case unbalancedBrace
    case unknownPlaceholder(String)

    public var description: String {
        switch self {
        case .unbalancedBrace: "unbalanced brace in template"
        case .unknownPlaceholder(let name):
            "unknown placeholder {\(name)}; use one of " + Template.placeholders.map { "{\($0)}" }.joined(separator: " ")
        }
    }
}
