/// How a one-line error message lists tensor or key names from a weight file: the first few
/// quoted, and how many more there are, so that a file with thousands of bad keys still makes
/// one readable line.
public enum ReportedNames {
    /// How many names an error message lists.
    public static let limit = 5

    /// `'a', 'b' and 3 more`: `shown` quoted, then how many of the `count` names are left out.
    public static func listed(_ shown: [String], count: Int) -> String {
        let more = count > shown.count ? " and \(count - shown.count) more" : ""
        return shown.map { "'\($0)'" }.joined(separator: ", ") + more
    }
}
