import Foundation
import Testing
@testable import Imaging

@Suite struct CodecFormatTests {
    @Test func extensionsNameFormatsWhateverTheirCase() {
        #expect(ImageFormat(pathExtension: "PNG") == .png)
        #expect(ImageFormat(pathExtension: "jpg") == .jpeg)
        #expect(ImageFormat(pathExtension: "JPeG") == .jpeg)
        #expect(ImageFormat(pathExtension: "tif") == .tiff)
        #expect(ImageFormat(pathExtension: "TIFF") == .tiff)
        #expect(ImageFormat(pathExtension: "gif") == nil)
        #expect(ImageFormat(pathExtension: "") == nil)
    }

    @Test func magicBytesIdentifyFormats() {
        #expect(ImageFormat(magic: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) == .png)
        #expect(ImageFormat(magic: [0xFF, 0xD8, 0xFF, 0xE0]) == .jpeg)
        #expect(ImageFormat(magic: Array("II*\0".utf8)) == .tiff)
        #expect(ImageFormat(magic: Array("MM\0*".utf8)) == .tiff)
        #expect(ImageFormat(magic: Array("hello".utf8)) == nil)
        #expect(ImageFormat(magic: [0x89, 0x50]) == nil)
    }
}
