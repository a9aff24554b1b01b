#ifndef CCODECS_H
#define CCODECS_H

/*
 * A small typed shim over libpng16, libjpeg(-turbo), libtiff, libwebp, libheif, stb_image (BMP,
 * read only), libexif and Exempi (XMP).
 *
 * Why C: libpng and libjpeg report errors by calling a function that must not return
 * (setjmp/longjmp), which Swift cannot express. Every function here catches those jumps
 * and returns a status plus a one-line message, so corrupt or truncated files never
 * crash or exit the process. libtiff errors go to a per-handle handler (no globals), so
 * all three codecs may be used from several threads at once.
 *
 * Decoded pixels cross this boundary as floats in 0...1 (sample / 255 or / 65535),
 * interleaved, rows top to bottom; pixels to encode as uint8 (bit depth 8) or native-endian
 * uint16 (bit depth 16).
 *
 * Decoding is bounded before it allocates: ccodecs_decoder_open refuses a header claiming
 * more than `max_pixels`, and every allocation the codec libraries make afterwards is held
 * to a budget of half the decoded image (in floats) plus CCODECS_MEMORY_SLACK, so a small
 * file cannot make a decoder claim much more memory than the image it produces. libheif
 * (HEIC, AVIF; read only) takes no allocator, so it is bounded by the size check alone, which
 * also tightens libheif's own per-side limit: what it allocates follows the accepted size.
 * stb_image (BMP) allocates only its 8-bit output, which the size check bounds within the budget.
 */

#include <stddef.h>
#include <stdint.h>

typedef enum {
    CCODECS_PNG = 0,
    CCODECS_JPEG = 1,
    CCODECS_TIFF = 2,
    CCODECS_WEBP = 3,
    /* HEIC and AVIF alike: libheif tells them apart from the file. */
    CCODECS_HEIF = 4,
    /* Read only, through stb_image. */
    CCODECS_BMP = 5
} ccodecs_format;

typedef enum {
    CCODECS_OK = 0,
    /* The file could not be opened or created; the message is the OS reason. */
    CCODECS_ERROR_IO = 1,
    /* The codec library rejected the data (corrupt, truncated, not this format). */
    CCODECS_ERROR_CORRUPT = 2,
    /* Valid data in a layout this shim does not decode (e.g. CMYK JPEG). */
    CCODECS_ERROR_UNSUPPORTED = 3,
    /* Writing failed after the file was created (disk full, invalid argument). */
    CCODECS_ERROR_WRITE = 4,
    /* The header claims more pixels than the caller allows; info holds the claimed size. */
    CCODECS_ERROR_TOO_LARGE = 5
} ccodecs_status;

/* Size callers should give message buffers; messages are truncated to fit. */
#define CCODECS_MESSAGE_CAPACITY 256

/*
 * Bytes a decoder may allocate beyond half the decoded image: libraries' fixed tables,
 * zlib windows, ancillary chunks, and the MCU padding of small JPEGs.
 */
#define CCODECS_MEMORY_SLACK ((size_t)64 << 20)

typedef struct {
    int32_t width;
    int32_t height;
    /* 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA: the layout ccodecs_decoder_read delivers. */
    int32_t channels;
    /* 8 or 16: the sample size ccodecs_decoder_read delivers. */
    int32_t bit_depth;
} ccodecs_info;

typedef struct ccodecs_decoder ccodecs_decoder;

/*
 * Reads only the header of the image in `fd`, an open regular file (read from offset 0;
 * `name` only labels libtiff's messages). The decoder takes `fd`: it is closed by
 * ccodecs_decoder_close, or before this returns an error. A header claiming more than
 * `max_pixels` pixels is refused with CCODECS_ERROR_TOO_LARGE (info holds the claimed
 * width and height) before anything grows with its size. On success *decoder must later
 * go to ccodecs_decoder_close; on failure *decoder is NULL and nothing needs freeing.
 */
ccodecs_status ccodecs_decoder_open(ccodecs_format format, int fd, const char *name,
                                    uint64_t max_pixels, ccodecs_decoder **decoder,
                                    ccodecs_info *info, char *message, size_t capacity);

/*
 * Decodes all pixels into `samples` (height * width * channels floats). `orientation`
 * is an EXIF orientation (1...8) that the rows are stored under, so that the result is
 * upright (width and height swap for 5...8); only JPEG carries one, other formats take 1
 * (HEIF's pixels come out upright from its own irot / imir transforms, which its EXIF
 * Orientation only repeats).
 */
ccodecs_status ccodecs_decoder_read(ccodecs_decoder *decoder, float *samples,
                                    int32_t orientation, char *message, size_t capacity);

/*
 * Metadata blocks a decoder keeps at most this long; a longer one is dropped (the pixels
 * still decode): no camera writes such a block, and a copy of it would follow every output.
 * They come from memory the budget already holds (libpng's chunks, libtiff's tags, the
 * WebP file), except JPEG's profile, which libjpeg-turbo joins from the APP2 segments into
 * a block no larger than they are in the file, and HEIF's, copied from libheif's reading of
 * the file.
 */
#define CCODECS_METADATA_LIMIT ((size_t)16 << 20)

/*
 * The image's TIFF-structured EXIF payload (starting "II*\0" or "MM\0*"), or NULL when it
 * has none: JPEG's Exif APP1 segment, PNG's eXIf chunk (before the image data, where the
 * PNG spec puts it), WebP's EXIF chunk, HEIF's Exif item (past its TIFF header offset).
 * TIFF files keep EXIF in a sub-directory of the image's own, which is not read. Valid from
 * ccodecs_decoder_open until the decoder is closed.
 */
const uint8_t *ccodecs_decoder_exif(const ccodecs_decoder *decoder, size_t *length);

/*
 * The image's ICC profile, or NULL when it has none: JPEG's APP2 ICC_PROFILE segments
 * joined, PNG's iCCP chunk inflated, TIFF's ICCProfile tag, WebP's ICCP chunk, HEIF's colr
 * box of type prof or rICC. Valid as ccodecs_decoder_exif's.
 */
const uint8_t *ccodecs_decoder_icc(const ccodecs_decoder *decoder, size_t *length);

/*
 * Input XMP packets a decoder keeps at most this long; a longer one is dropped (the pixels
 * still decode). Photo editors write a few to some tens of KB; a JPEG segment holds 64 KB.
 */
#define CCODECS_XMP_LIMIT ((size_t)1 << 20)

/*
 * The image's XMP packet (XMP specification part 3), or NULL when it has none: PNG's iTXt
 * chunk keyed XML:com.adobe.xmp before the image data, JPEG's APP1 segment
 * "http://ns.adobe.com/xap/1.0/" (not the extended XMP of further segments), WebP's "XMP "
 * chunk, TIFF's XMLPacket tag (700), HEIF's item of content type application/rdf+xml. BMP has
 * none. Its bytes as the file holds them, not checked. Valid as ccodecs_decoder_exif's.
 */
const uint8_t *ccodecs_decoder_xmp(const ccodecs_decoder *decoder, size_t *length);

void ccodecs_decoder_close(ccodecs_decoder *decoder);

typedef struct {
    /* NUL-terminated Latin-1 keyword, 1 to 79 bytes. */
    const char *key;
    /* Latin-1 (utf8 == 0, written as tEXt) or UTF-8 (utf8 != 0, written as iTXt). */
    const char *value;
    size_t value_length;
    int32_t utf8;
} ccodecs_text;

/* PNG text chunks (tEXt, zTXt, iTXt) from anywhere in the file, in file order. */
typedef struct {
    ccodecs_text *entries;
    int32_t count;
} ccodecs_text_list;

/* Takes `fd` as ccodecs_decoder_open does; the image's rows are decoded and dropped. */
ccodecs_status ccodecs_png_read_text(int fd, uint64_t max_pixels, ccodecs_text_list *list,
                                     char *message, size_t capacity);
void ccodecs_text_list_free(ccodecs_text_list *list);

/*
 * Metadata blocks an encoder embeds as they are; any may be NULL with length 0.
 * exif: a TIFF-structured EXIF payload (starting "II*\0" or "MM\0*"); icc: an ICC
 * profile; xmp: an XMP packet (UTF-8).
 */
typedef struct {
    const uint8_t *exif;
    size_t exif_length;
    const uint8_t *icc;
    size_t icc_length;
    const uint8_t *xmp;
    size_t xmp_length;
} ccodecs_metadata;

/*
 * Text chunks go before the image data; metadata (may be NULL) adds iCCP (libpng drops a
 * profile whose colour space does not match the image), eXIf, and the XMP packet as an
 * uncompressed iTXt chunk with keyword XML:com.adobe.xmp, also before the image data (a
 * packet holding a NUL byte is refused: iTXt text cannot hold one).
 */
ccodecs_status ccodecs_png_write(const char *path, const void *pixels, int32_t width,
                                 int32_t height, int32_t channels, int32_t bit_depth,
                                 const ccodecs_text *texts, int32_t text_count,
                                 const ccodecs_metadata *metadata, char *message, size_t capacity);

/* The most XMP a JPEG's APP1 segment holds after its signature, as XMP part 3 counts it. */
#define CCODECS_JPEG_XMP_CAPACITY 65502

/*
 * channels 1 or 3, 8-bit samples; quality 1...100. Metadata goes in APP1 (Exif, at most
 * 65527 bytes), APP1 (XMP, at most CCODECS_JPEG_XMP_CAPACITY bytes) and APP2 (ICC, split as
 * the ICC spec says).
 */
ccodecs_status ccodecs_jpeg_write(const char *path, const uint8_t *pixels, int32_t width,
                                  int32_t height, int32_t channels, int32_t quality,
                                  const ccodecs_metadata *metadata, char *message, size_t capacity);

/*
 * channels 3 or 4, 8-bit samples; lossless != 0 encodes losslessly, otherwise lossy at
 * `quality` 1...100. Metadata becomes ICCP, EXIF and XMP chunks of a VP8X container.
 */
ccodecs_status ccodecs_webp_write(const char *path, const uint8_t *pixels, int32_t width, int32_t height,
                                  int32_t channels, int32_t quality, int32_t lossless,
                                  const ccodecs_metadata *metadata, char *message, size_t capacity);

/*
 * Deflate-compressed with horizontal differencing; alpha written as unassociated. Of the
 * metadata (may be NULL) the ICC profile (the ICCProfile tag) and the XMP packet (the
 * XMLPacket tag, 700) are written; EXIF is not.
 */
ccodecs_status ccodecs_tiff_write(const char *path, const void *pixels, int32_t width,
                                  int32_t height, int32_t channels, int32_t bit_depth,
                                  const ccodecs_metadata *metadata, char *message, size_t capacity);

/* What ccodecs_exif_rewrite changes in an input's EXIF for the output it goes with. */
typedef struct {
    /* The output's size, recorded as PixelXDimension and PixelYDimension. */
    uint32_t width;
    uint32_t height;
    /* Nonzero: the pixels were turned upright on reading, so Orientation becomes 1. */
    int32_t reset_orientation;
    /* A UserComment to replace the input's (charset prefix included), or NULL to keep it. */
    const uint8_t *comment;
    size_t comment_length;
} ccodecs_exif_changes;

/*
 * Rewrites a TIFF-structured EXIF payload through libexif for an edited image: `changes`
 * applied, the thumbnail (IFD1, a picture of the unedited image) removed, every other tag
 * kept, the byte order kept. libexif reads at most the first 64 KiB, as a JPEG segment holds.
 * On success *rewritten is a malloc'ed payload for free(), or NULL when libexif found no tag
 * in `exif` (nothing of the input to carry).
 */
ccodecs_status ccodecs_exif_rewrite(const uint8_t *exif, size_t length, const ccodecs_exif_changes *changes,
                                    uint8_t **rewritten, size_t *rewritten_length,
                                    char *message, size_t capacity);

/* What ccodecs_xmp_merge changes in an input's XMP packet for the output it goes with. */
typedef struct {
    /* IPTC's Iptc4xmpExt:DigitalSourceType URI and xmp:CreatorTool to set, or NULL for neither. */
    const char *digital_source_type;
    const char *creator_tool;
    /* Nonzero: the pixels were turned upright on reading, so tiff:Orientation becomes 1. */
    int32_t reset_orientation;
    /* The output's size, for exif:PixelXDimension / PixelYDimension, tiff:ImageWidth / ImageLength. */
    uint32_t width;
    uint32_t height;
} ccodecs_xmp_changes;

/*
 * Rewrites an input's XMP packet through Exempi (Adobe's XMP Toolkit) for an edited image:
 * every property kept but xmp:Thumbnails (a picture of the unedited image), `changes` applied
 * (the pixel dimensions and tiff:Orientation only where the packet has them), serialized as a
 * read-only packet (end="r", no padding). CCODECS_ERROR_CORRUPT when the packet is not XMP
 * that Exempi reads, holds no property, or nests its elements deeper than any XMP does (the toolkit recurses once
 * a level, so a deep enough packet would overflow the stack); nothing is printed. On success
 * *merged is a malloc'ed UTF-8 packet for free(), NUL-terminated, *merged_length bytes without
 * the NUL.
 */
ccodecs_status ccodecs_xmp_merge(const uint8_t *packet, size_t length, const ccodecs_xmp_changes *changes,
                                 char **merged, size_t *merged_length);

#endif
