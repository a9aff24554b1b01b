import Foundation

/// A `config.json` read and written through one table of its keys, so each key is named once,
/// beside the property it sets, and the rule for absent keys and nulls is written once, here,
/// instead of in a hand-written `init(from:)` per config.
///
/// A key absent from the file leaves the value `init()` gives its property: the reference
/// constructor's keyword default. So does a null, except for an optional property, which a null
/// sets to nil (a default the reference lets a config set to None). Keys the table does not name
/// are ignored, as `from_config` ignores keys the class does not take.
public protocol KeyedConfig: Codable {
    /// The reference constructor's defaults.
    init()

    /// Every key the config reads and writes.
    static var keys: [ConfigKey<Self>] { get }
}

extension KeyedConfig {
    public init(from decoder: any Decoder) throws {
        self.init()
        try decodeKeys(from: decoder)
    }

    /// Sets the properties whose keys the file gives, leaving the others as they are.
    mutating func decodeKeys(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: ConfigKeyName.self)
        for key in Self.keys {
            try key.decode(&self, container)
        }
    }

    /// Every key, except optional properties that are nil (as the synthesized `encode` leaves them out).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: ConfigKeyName.self)
        for key in Self.keys {
            try key.encode(self, &container)
        }
    }
}

/// One key of a `KeyedConfig`: its name in the file and the property it sets.
public struct ConfigKey<Config> {
    /// Reads a present key's value; nil leaves the property's default.
    public typealias Reader<Value> = (KeyedDecodingContainer<ConfigKeyName>, ConfigKeyName) throws -> Value?

    let decode: (inout Config, KeyedDecodingContainer<ConfigKeyName>) throws -> Void
    let encode: (Config, inout KeyedEncodingContainer<ConfigKeyName>) throws -> Void

    /// A key whose absence or null leaves the property's default.
    public static func key<Value: Codable>(_ name: String, _ property: WritableKeyPath<Config, Value>) -> ConfigKey {
        key(name, property, read: { try $0.decodeIfPresent(Value.self, forKey: $1) })
    }

    /// A key read by `read`, for a value the file may write in more than one form.
    public static func key<Value: Codable>(_ name: String, _ property: WritableKeyPath<Config, Value>,
                                           read: @escaping Reader<Value>) -> ConfigKey {
        let key = ConfigKeyName(name)
        return ConfigKey(
            decode: { config, container in
                if let value = try read(container, key) { config[keyPath: property] = value }
            },
            encode: { config, container in try container.encode(config[keyPath: property], forKey: key) })
    }

    /// An optional property's key: its absence leaves the default, a null sets nil.
    public static func key<Value: Codable>(_ name: String, _ property: WritableKeyPath<Config, Value?>) -> ConfigKey {
        key(name, property, read: { try $0.decodeIfPresent(Value.self, forKey: $1) })
    }

    /// An optional property's key read by `read` when the file has it.
    public static func key<Value: Codable>(_ name: String, _ property: WritableKeyPath<Config, Value?>,
                                           read: @escaping Reader<Value>) -> ConfigKey {
        let key = ConfigKeyName(name)
        return ConfigKey(
            decode: { config, container in
                if container.contains(key) { config[keyPath: property] = try read(container, key) }
            },
            encode: { config, container in try container.encodeIfPresent(config[keyPath: property], forKey: key) })
    }

    /// The keys of `Part`, a group of keys the file writes at this config's own level.
    public static func keys<Part: KeyedConfig>(of part: WritableKeyPath<Config, Part>) -> [ConfigKey] {
        Part.keys.map { key in
            ConfigKey(decode: { config, container in try key.decode(&config[keyPath: part], container) },
                      encode: { config, container in try key.encode(config[keyPath: part], &container) })
        }
    }
}

/// A `config.json` key by its name.
public struct ConfigKeyName: CodingKey, Sendable {
    public let stringValue: String

    init(_ name: String) { stringValue = name }

    public init?(stringValue: String) { self.stringValue = stringValue }

    public var intValue: Int? { nil }

    public init?(intValue: Int) { nil }
}
