#ifndef CCODECS_H
#define CCODECS_H

/*
 * A small typed shim over libpng16, libjpeg(-turbo) and libtiff.
 *
 * Why C: libpng and libjpeg report errors by calling a function that must not return
 * (setjmp/longjmp), which Swift cannot express. Every function here catches those jumps
 * and returns a status plus a one-line message, so corrupt or truncated files never
 * crash or exit the process. libtiff errors go to a per-handle handler (no globals), so
 * all three codecs may be used from several threads at once.
 *
 * Pixels cross this boundary interleaved, rows top to bottom, as uint8 (bit depth 8) or
 * native-endian uint16 (bit depth 16).
 */

#include <stddef.h>
#include <stdint.h>

typedef enum {
    CCODECS_PNG = 0,
    CCODECS_JPEG = 1,
    CCODECS_TIFF = 2
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
    CCODECS_ERROR_WRITE = 4
} ccodecs_status;

/* Size callers should give message buffers; messages are truncated to fit. */
#define CCODECS_MESSAGE_CAPACITY 256

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
 * Opens `path` and reads only the header, so the caller can refuse an image before
 * allocating its pixels. On success *decoder must later go to ccodecs_decoder_close; on
 * failure *decoder is NULL and nothing needs freeing.
 */
ccodecs_status ccodecs_decoder_open(ccodecs_format format, const char *path,
                                    ccodecs_decoder **decoder, ccodecs_info *info,
                                    char *message, size_t capacity);

/* Decodes all pixels into `pixels` (height * width * channels samples of bit_depth). */
ccodecs_status ccodecs_decoder_read(ccodecs_decoder *decoder, void *pixels,
                                    char *message, size_t capacity);

/*
 * JPEG only: the TIFF-structured payload of the Exif APP1 segment (after "Exif\0\0"), or
 * NULL when there is none. Valid until the decoder is closed.
 */
const uint8_t *ccodecs_decoder_exif(const ccodecs_decoder *decoder, size_t *length);

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

ccodecs_status ccodecs_png_read_text(const char *path, ccodecs_text_list *list,
                                     char *message, size_t capacity);
void ccodecs_text_list_free(ccodecs_text_list *list);

ccodecs_status ccodecs_png_write(const char *path, const void *pixels, int32_t width,
                                 int32_t height, int32_t channels, int32_t bit_depth,
                                 const ccodecs_text *texts, int32_t text_count,
                                 char *message, size_t capacity);

/* channels 1 or 3, 8-bit samples; quality 1...100. */
ccodecs_status ccodecs_jpeg_write(const char *path, const uint8_t *pixels, int32_t width,
                                  int32_t height, int32_t channels, int32_t quality,
                                  char *message, size_t capacity);

/* Deflate-compressed with horizontal differencing; alpha written as unassociated. */
ccodecs_status ccodecs_tiff_write(const char *path, const void *pixels, int32_t width,
                                  int32_t height, int32_t channels, int32_t bit_depth,
                                  char *message, size_t capacity);

#endif
