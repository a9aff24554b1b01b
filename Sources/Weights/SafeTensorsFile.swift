import FileAccess
import Foundation
import Synchronization
import Tensors
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only, memory-mapped `.safetensors` file.
///
/// The header is validated in full when the file is opened (see `SafeTensorsHeader`), so reading a
/// tensor never runs past the mapping: a truncated file or a lying header is an error, not a crash.
/// The mapping is private and read-only and lives as long as this object; tensors are copied out
/// (and widened to f32) on request, and the half tensors read in place keep this object alive.
public final class SafeTensorsFile: ParameterSource, @unchecked Sendable {
    // @unchecked: the mapping is immutable (PROT_READ) after init and unmapped only in deinit.
    public let url: URL
    public let header: SafeTensorsHeader
    private let mapping: UnsafeRawBufferPointer

    public init(url: URL) throws {
        self.url = url
        if PickleGuard.hasPickleExtension(url) { throw WeightsError.pickleRefused(path: url.path) }
        mapping = try Self.map(url)
        do {
            if PickleGuard.looksLikePickle(mapping) { throw WeightsError.pickleRefused(path: url.path) }
            header = try SafeTensorsHeader(bytes: mapping, fileSize: mapping.count, path: url.path)
        } catch {
            Self.unmap(mapping)
            throw error
        }
        Self.liveMappings.withLock { $0[ObjectIdentifier(self)] = mapping }
    }

    deinit {
        Self.liveMappings.withLock { $0[ObjectIdentifier(self)] = nil }
        Self.unmap(mapping)
    }

    /// Every open file's mapping, so that `releaseResidentPages` can reach them all.
    private static let liveMappings = Mutex<[ObjectIdentifier: UnsafeRawBufferPointer]>([:])

    /// Takes every open file's pages out of this process (`madvise(MADV_DONTNEED)`): they are
    /// clean and file-backed, so they stay in the page cache and the next read faults them back
    /// in, unchanged. A pipeline calls it before a phase that touches none of a model's weights
    /// but needs gigabytes of its own (SDXL's VAE at 1024x1024 beside its 6.5 GB of UNet weights).
    public static func releaseResidentPages() {
        liveMappings.withLock { mappings in
            for mapping in mappings.values {
                guard let base = mapping.baseAddress else { continue }
                madvise(UnsafeMutableRawPointer(mutating: base), mapping.count, MADV_DONTNEED)
            }
        }
    }

    /// Tensor names, sorted.
    public var keys: [String] { header.entries.keys.sorted() }

    public var metadata: [String: String] { header.metadata }

    public var path: String { url.path }

    public func shape(of name: String) throws -> [Int] { try info(named: name).shape }

    public func info(named name: String) throws -> SafeTensorsEntry {
        guard let entry = header.entries[name] else {
            throw WeightsError.missingTensor(path: url.path, tensor: name)
        }
        return entry
    }

    /// The tensor's values as f32 (f16, bf16 and f64 are converted).
    public func tensor(named name: String) throws -> Tensor {
        let entry = try info(named: name)
        let start = header.dataStart + entry.dataRange.lowerBound
        let bytes = UnsafeRawBufferPointer(rebasing: mapping[start ..< start + entry.dataRange.count])
        guard let scalars = ScalarConversion.floats(from: bytes, dtype: entry.dtype, count: entry.elementCount) else {
            throw WeightsError.unsupportedDType(path: url.path, tensor: name, dtype: entry.dtype.rawValue)
        }
        return Tensor(shape: entry.shape, scalars: scalars)
    }

    /// An f16 or bf16 tensor read in place from the mapping, which it keeps alive.
    public func halfTensor(named name: String) throws -> HalfTensor? {
        let entry = try info(named: name)
        let format: HalfTensor.Format
        switch entry.dtype {
        case .f16: format = .f16
        case .bf16: format = .bf16
        default: return nil
        }
        let start = header.dataStart + entry.dataRange.lowerBound
        return HalfTensor(shape: entry.shape, format: format,
                          bytes: UnsafeRawBufferPointer(rebasing: mapping[start ..< start + entry.dataRange.count]), owner: self)
    }

    private static func map(_ url: URL) throws -> UnsafeRawBufferPointer {
        let path = url.path
        let descriptor: Int32
        do {
            descriptor = try RegularFile.open(path)
        } catch {
            throw WeightsError(error)
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw WeightsError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        let size = Int(status.st_size)
        guard size >= 8 else {
            throw WeightsError.truncated(path: path, detail: "\(size) bytes, shorter than the 8-byte header length")
        }
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), address != MAP_FAILED else {
            throw WeightsError.unreadable(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        return UnsafeRawBufferPointer(start: address, count: size)
    }

    private static func unmap(_ mapping: UnsafeRawBufferPointer) {
        if let base = mapping.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), mapping.count)
        }
    }
}
