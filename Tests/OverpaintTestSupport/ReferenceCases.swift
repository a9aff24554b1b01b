import Foundation

/// A reference case read from a `{"cases": {name: {...}}}` fixture file, named by its key.
public protocol NamedReferenceCase: Decodable {
    var name: String { get set }
}

/// A fixture file of reference cases by name, as the scripts of tools/reference write them:
/// `{"cases": {name: {...}}}`.
public struct ReferenceCaseFile<Case: Decodable>: Decodable {
    public let cases: [String: Case]
}

extension Fixtures {
    /// The JSON fixture `area/name` decoded as `type`.
    public static func decoded<Value: Decodable>(_ type: Value.Type, _ area: String, _ name: String) throws -> Value {
        try JSONDecoder().decode(type, from: data(area, name))
    }

    /// The cases of the reference case file `area/name`, by name.
    public static func cases<Case: Decodable>(_ area: String, _ name: String) throws -> [String: Case] {
        try decoded(ReferenceCaseFile<Case>.self, area, name).cases
    }

    /// The cases of the reference case file `area/name`, each named by its key, in name order;
    /// none if the file is unreadable (the tests over them then fail for want of cases).
    public static func namedCases<Case: NamedReferenceCase>(_ area: String, _ name: String) -> [Case] {
        guard let cases: [String: Case] = try? cases(area, name) else { return [] }
        return named(cases)
    }

    /// `cases`, each named by its key, in name order.
    public static func named<Case: NamedReferenceCase>(_ cases: [String: Case]) -> [Case] {
        cases.map { name, value in
            var named = value
            named.name = name
            return named
        }.sorted { $0.name < $1.name }
    }
}
