#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ccodecs_internal.h"

/*
 * BMP through stb_image (Debian's libstb-dev, v2.27), compiled here with its BMP reader alone
 * and no stdio: the file is read through the decoder's descriptor by callbacks.
 *
 * What stb_image reads: the OS/2 1.x (12-byte, 24-bit only here), Windows 3.x (40), Adobe (56),
 * V4 (108) and V5 (124) headers; 1-, 4- and 8-bit palettes, 16-bit (5-5-5, or 5-6-5 and others through
 * BI_BITFIELDS), 24-bit, and 32-bit (BI_RGB or BI_BITFIELDS, with alpha from the mask or the
 * fourth byte); bottom-up and top-down (negative height) rows. Palette and 16-bit images come
 * as RGB; 32-bit ones as RGBA, whose alpha becomes opaque when every pixel's is 0 (the
 * common XRGB files, whose fourth byte is padding). Samples are 8-bit: 5- and 6-bit fields
 * are widened by repeating their high bits.
 *
 * Refused: RLE4 / RLE8 and every other compression (embedded JPEG or PNG, CMYK...), 2-,
 * 48- and 64-bit pixels and OS/2 1.x palettes (stb_image would misread them: it takes an OS/2
 * palette to end 12 bytes before the pixel data offset), a 16-, 24- or 32-bit file whose pixel
 * data does not start right after its header and masks (stb_image's "bad offset"), and
 * pixel rows that do not fit in the file. A palette index past the file's palette (a malformed
 * file) gives an unspecified colour: stb_image does not check it against the entries read.
 *
 * Memory: stb_image's one allocation that grows with the image is its 8-bit output, at most
 * 4 bytes a pixel against the 16 the floats take, so the size check before decoding bounds it
 * within the budget. Its messages are thread-local (STBI_THREAD_LOCAL), so decoders may run
 * on several threads at once.
 */
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_FAILURE_USERMSG
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-function"
#include <stb/stb_image.h>
#pragma clang diagnostic pop

/* The file header (14 bytes) and the largest info header stb_image reads (V5, 124). */
enum { file_header_bytes = 14, header_bytes = file_header_bytes + 124 };

static uint32_t little_endian_32(const uint8_t *bytes) {
    return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 | (uint32_t)bytes[3] << 24;
}

static uint16_t little_endian_16(const uint8_t *bytes) { return (uint16_t)(bytes[0] | bytes[1] << 8); }

/* What the pre-check reads of the header stb_image has accepted. */
typedef struct {
    uint32_t pixel_offset;
    uint32_t header_size;
    uint16_t bits;
    uint32_t compression;
} bmp_layout;

static bmp_layout read_layout(const uint8_t *header) {
    bmp_layout layout = {.pixel_offset = little_endian_32(header + 10), .header_size = little_endian_32(header + 14)};
    int core = layout.header_size == 12; /* OS/2 1.x: 16-bit sizes, no compression field */
    layout.bits = little_endian_16(header + (core ? 24 : 28));
    layout.compression = core ? 0 : little_endian_32(header + 30);
    return layout;
}

/*
 * Told here rather than by stb_image, whose header reader names its refusal but whose info
 * function (which reads no pixels) reports only "not of any known type" for every one.
 */
static ccodecs_status check_compression(ccodecs_decoder *decoder, bmp_layout layout) {
    if (layout.compression == 0 || layout.compression == 3) return CCODECS_OK; /* BI_RGB, BI_BITFIELDS */
    if (layout.compression == 1 || layout.compression == 2)
        ccodecs_note(&decoder->jump, "RLE-compressed BMP images are not supported");
    else
        ccodecs_note(&decoder->jump, "BMP compression %u is not supported (uncompressed and BI_BITFIELDS are)",
                     layout.compression);
    return CCODECS_ERROR_UNSUPPORTED;
}

/*
 * The checks stb_image does not make, on the header it accepted: a layout it reads right,
 * pixel data starting after the headers (it would leave the palette unread), and rows within
 * the file. stb_image reads zeros past the end of a file rather than failing, so without the
 * last check a truncated file would decode, and a header claiming a large image over a few
 * bytes would cost the whole image's memory and time.
 */
static ccodecs_status check_layout(ccodecs_decoder *decoder, const uint8_t *header, uint64_t file_size) {
    bmp_layout layout = read_layout(header);
    uint16_t bits = layout.bits;
    if (bits != 1 && bits != 4 && bits != 8 && bits != 16 && bits != 24 && bits != 32) {
        ccodecs_note(&decoder->jump, "%u-bit BMP images are not supported (1, 4, 8, 16, 24 and 32 are)", bits);
        return CCODECS_ERROR_UNSUPPORTED;
    }
    if (layout.header_size == 12 && bits < 24) {
        ccodecs_note(&decoder->jump, "OS/2 1.x BMP images with a palette are not supported");
        return CCODECS_ERROR_UNSUPPORTED;
    }
    /* BI_BITFIELDS after a 40-byte header puts three masks between it and the pixels. */
    uint64_t masks = layout.header_size == 40 && layout.compression == 3 ? 12 : 0;
    uint64_t headers_end = file_header_bytes + (uint64_t)layout.header_size + masks;
    if (layout.pixel_offset < headers_end) {
        ccodecs_note(&decoder->jump, "the pixel data offset %u lies inside the %llu bytes of headers",
                     layout.pixel_offset, (unsigned long long)headers_end);
        return CCODECS_ERROR_CORRUPT;
    }
    uint64_t row_bytes = ((uint64_t)decoder->info.width * bits + 31) / 32 * 4;
    uint64_t needed = layout.pixel_offset + row_bytes * (uint64_t)decoder->info.height;
    if (needed > file_size) {
        ccodecs_note(&decoder->jump, "truncated: the pixel rows end at byte %llu of a %llu-byte file",
                     (unsigned long long)needed, (unsigned long long)file_size);
        return CCODECS_ERROR_CORRUPT;
    }
    return CCODECS_OK;
}

ccodecs_status ccodecs_bmp_open(ccodecs_decoder *decoder, const char *name) {
    (void)name;
    uint64_t file_size;
    ccodecs_status sized = ccodecs_file_size(decoder, &file_size);
    if (sized != CCODECS_OK) return sized;
    uint8_t header[header_bytes] = {0};
    ssize_t count = pread(decoder->fd, header, sizeof header, 0);
    if (count < 0) {
        ccodecs_note(&decoder->jump, "%s", strerror(errno));
        return CCODECS_ERROR_IO;
    }
    int width = 0, height = 0, channels = 0;
    if (count < file_header_bytes + 16) {
        ccodecs_note(&decoder->jump, "truncated header");
        return CCODECS_ERROR_CORRUPT;
    }
    ccodecs_status compression = check_compression(decoder, read_layout(header));
    if (compression != CCODECS_OK) return compression;
    if (!stbi_info_from_memory(header, (int)count, &width, &height, &channels)) {
        ccodecs_note(&decoder->jump, "%s", stbi_failure_reason());
        return CCODECS_ERROR_CORRUPT;
    }
    /* A negative height means rows stored top-down; INT_MIN has no positive counterpart. */
    if (width < 0 || height == INT_MIN) {
        ccodecs_note(&decoder->jump, "BMP dimensions %dx%d are out of range", width, height);
        return CCODECS_ERROR_CORRUPT;
    }
    ccodecs_status size = ccodecs_check_size(decoder, (uint64_t)width, (uint64_t)abs(height));
    if (size != CCODECS_OK) return size;
    ccodecs_status layout = check_layout(decoder, header, file_size);
    if (layout != CCODECS_OK) return layout;
    decoder->info.channels = channels;
    decoder->info.bit_depth = 8;
    ccodecs_set_budget(decoder);
    return CCODECS_OK;
}

/* stb_image's callbacks over the decoder's descriptor, from its start. */
typedef struct {
    int fd;
    off_t position;
    int at_end;
} bmp_reader;

static int reader_read(void *user, char *data, int size) {
    bmp_reader *reader = user;
    ssize_t count;
    do count = pread(reader->fd, data, (size_t)size, reader->position);
    while (count < 0 && errno == EINTR);
    if (count <= 0) {
        reader->at_end = 1;
        return 0;
    }
    reader->position += count;
    return (int)count;
}

static void reader_skip(void *user, int count) { ((bmp_reader *)user)->position += count; }

static int reader_eof(void *user) { return ((bmp_reader *)user)->at_end; }

ccodecs_status ccodecs_bmp_read(ccodecs_decoder *decoder, float *samples) {
    bmp_reader reader = {.fd = decoder->fd};
    stbi_io_callbacks callbacks = {.read = reader_read, .skip = reader_skip, .eof = reader_eof};
    int width = 0, height = 0, channels = 0;
    stbi_uc *pixels = stbi_load_from_callbacks(&callbacks, &reader, &width, &height, &channels, decoder->info.channels);
    if (pixels == NULL) {
        ccodecs_note(&decoder->jump, "%s", stbi_failure_reason());
        return CCODECS_ERROR_CORRUPT;
    }
    ccodecs_status status = CCODECS_OK;
    if (width != decoder->info.width || height != decoder->info.height || channels != decoder->info.channels) {
        ccodecs_note(&decoder->jump, "decoded %dx%d pixels of %d channels, not the %dx%d of %d the header declares",
                     width, height, channels, decoder->info.width, decoder->info.height, decoder->info.channels);
        status = CCODECS_ERROR_CORRUPT;
    } else {
        size_t count = (size_t)width * (size_t)height * (size_t)channels;
        for (size_t i = 0; i < count; i++) samples[i] = (float)pixels[i] / 255.0f;
    }
    stbi_image_free(pixels);
    return status;
}
