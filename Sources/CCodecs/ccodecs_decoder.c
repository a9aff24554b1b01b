#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ccodecs_internal.h"

void ccodecs_note(ccodecs_jump *jump, const char *format, ...) {
    /* The first message is the cause; later ones are usually its consequences. */
    if (jump->has_message) return;
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(jump->message, sizeof jump->message, format, arguments);
    va_end(arguments);
    jump->has_message = 1;
}

void ccodecs_copy_message(const ccodecs_jump *jump, const char *fallback, char *message,
                          size_t capacity) {
    if (message == NULL || capacity == 0) return;
    snprintf(message, capacity, "%s", jump->has_message ? jump->message : fallback);
}

ccodecs_status ccodecs_check_size(ccodecs_decoder *decoder, uint64_t width, uint64_t height) {
    decoder->info.width = (int32_t)width;
    decoder->info.height = (int32_t)height;
    /* Both are below 2^32, so the product cannot wrap. */
    return width * height > decoder->max_pixels ? CCODECS_ERROR_TOO_LARGE : CCODECS_OK;
}

void ccodecs_set_budget(ccodecs_decoder *decoder) {
    size_t floats = (size_t)decoder->info.width * (size_t)decoder->info.height *
                    (size_t)decoder->info.channels * sizeof(float);
    decoder->memory_limit = floats / 2 + CCODECS_MEMORY_SLACK;
}

void ccodecs_note_budget(ccodecs_decoder *decoder) {
    if (decoder->info.width > 0 && decoder->info.height > 0)
        ccodecs_note(&decoder->jump, "decoding would need more than the %zu MiB allowed for a %dx%d image",
                     decoder->memory_limit >> 20, decoder->info.width, decoder->info.height);
    else
        ccodecs_note(&decoder->jump, "the header would need more than %zu MiB", decoder->memory_limit >> 20);
}

int ccodecs_take_memory(ccodecs_decoder *decoder, size_t size) {
    if (size > decoder->memory_limit - decoder->memory_used) {
        ccodecs_note_budget(decoder);
        return 0;
    }
    decoder->memory_used += size;
    return 1;
}

void ccodecs_return_memory(ccodecs_decoder *decoder, size_t size) { decoder->memory_used -= size; }

int ccodecs_open_file(ccodecs_decoder *decoder) {
    if (lseek(decoder->fd, 0, SEEK_SET) != 0 || (decoder->file = fdopen(decoder->fd, "rb")) == NULL) {
        ccodecs_note(&decoder->jump, "%s", strerror(errno));
        return 0;
    }
    decoder->fd = -1;
    return 1;
}

ccodecs_status ccodecs_file_size(ccodecs_decoder *decoder, uint64_t *size) {
    struct stat status;
    if (fstat(decoder->fd, &status) != 0) {
        ccodecs_note(&decoder->jump, "%s", strerror(errno));
        return CCODECS_ERROR_IO;
    }
    *size = (uint64_t)status.st_size;
    return CCODECS_OK;
}

void ccodecs_keep_exif(ccodecs_decoder *decoder, const uint8_t *bytes, size_t length) {
    static const uint8_t prefix[6] = {'E', 'x', 'i', 'f', 0, 0};
    if (bytes == NULL) return;
    if (length >= sizeof prefix && memcmp(bytes, prefix, sizeof prefix) == 0) {
        bytes += sizeof prefix;
        length -= sizeof prefix;
    }
    int tiff_structured = length >= 8 && (memcmp(bytes, "II*\0", 4) == 0 || memcmp(bytes, "MM\0*", 4) == 0);
    if (!tiff_structured || length > CCODECS_METADATA_LIMIT) return;
    decoder->metadata.exif = bytes;
    decoder->metadata.exif_length = length;
}

void ccodecs_keep_icc(ccodecs_decoder *decoder, const uint8_t *bytes, size_t length) {
    if (bytes == NULL || length == 0 || length > CCODECS_METADATA_LIMIT) return;
    decoder->metadata.icc = bytes;
    decoder->metadata.icc_length = length;
}

void ccodecs_keep_xmp(ccodecs_decoder *decoder, const uint8_t *bytes, size_t length) {
    if (bytes == NULL || length == 0 || length > CCODECS_XMP_LIMIT) return;
    decoder->metadata.xmp = bytes;
    decoder->metadata.xmp_length = length;
}

void ccodecs_widen(float *samples, const void *raw, size_t count, int32_t bit_depth) {
    const uint8_t *bytes = raw;
    if (bit_depth == 16) {
        for (size_t i = count; i-- > 0;) {
            uint16_t value;
            memcpy(&value, bytes + 2 * i, sizeof value);
            samples[i] = (float)value / 65535.0f;
        }
    } else {
        for (size_t i = count; i-- > 0;) samples[i] = (float)bytes[i] / 255.0f;
    }
}

ccodecs_status ccodecs_decoder_open(ccodecs_format format, int fd, const char *name,
                                    uint64_t max_pixels, ccodecs_decoder **decoder,
                                    ccodecs_info *info, char *message, size_t capacity) {
    *decoder = NULL;
    ccodecs_decoder *opened = calloc(1, sizeof *opened);
    if (opened == NULL) {
        close(fd);
        snprintf(message, capacity, "out of memory");
        return CCODECS_ERROR_IO;
    }
    opened->format = format;
    opened->fd = fd;
    opened->max_pixels = max_pixels;
    opened->memory_limit = CCODECS_MEMORY_SLACK;
    ccodecs_status status;
    switch (format) {
    case CCODECS_PNG: status = ccodecs_png_open(opened, name); break;
    case CCODECS_JPEG: status = ccodecs_jpeg_open(opened, name); break;
    case CCODECS_TIFF: status = ccodecs_tiff_open(opened, name); break;
    case CCODECS_WEBP: status = ccodecs_webp_open(opened, name); break;
    case CCODECS_HEIF: status = ccodecs_heif_open(opened, name); break;
    case CCODECS_BMP: status = ccodecs_bmp_open(opened, name); break;
    default: ccodecs_note(&opened->jump, "unknown format"); status = CCODECS_ERROR_UNSUPPORTED;
    }
    *info = opened->info;
    if (status != CCODECS_OK) {
        ccodecs_copy_message(&opened->jump, "cannot decode the header", message, capacity);
        ccodecs_decoder_close(opened);
        return status;
    }
    *decoder = opened;
    return CCODECS_OK;
}

/* The pixels as the file stores them, row-major. */
static ccodecs_status read_stored(ccodecs_decoder *decoder, float *samples) {
    switch (decoder->format) {
    case CCODECS_PNG: return ccodecs_png_read(decoder, samples);
    case CCODECS_TIFF: return ccodecs_tiff_read(decoder, samples);
    case CCODECS_WEBP: return ccodecs_webp_read(decoder, samples);
    case CCODECS_HEIF: return ccodecs_heif_read(decoder, samples);
    case CCODECS_BMP: return ccodecs_bmp_read(decoder, samples);
    default: return CCODECS_ERROR_UNSUPPORTED;
    }
}

/*
 * PNG and WebP pixels turned as EXIF `orientation` asks, as Pillow's ImageOps.exif_transpose
 * turns them (what diffusers' load_image does): decoded as stored into a scratch copy, then
 * each source pixel (x, y) placed where the JPEG reader places it. Only oriented files pay
 * for the copy.
 */
static ccodecs_status read_oriented(ccodecs_decoder *decoder, float *samples, int32_t orientation) {
    ptrdiff_t w = decoder->info.width, h = decoder->info.height, channels = decoder->info.channels;
    float *stored = malloc((size_t)(w * h * channels) * sizeof(float));
    if (stored == NULL) {
        ccodecs_note(&decoder->jump, "out of memory");
        return CCODECS_ERROR_IO;
    }
    ccodecs_status status = read_stored(decoder, stored);
    if (status == CCODECS_OK) {
        for (ptrdiff_t y = 0; y < h; y++) ccodecs_store_oriented_row(&decoder->info, samples, orientation, y, stored + y * w * channels);
    }
    free(stored);
    return status;
}

ccodecs_status ccodecs_decoder_read(ccodecs_decoder *decoder, float *samples, int32_t orientation,
                                    char *message, size_t capacity) {
    ccodecs_status status;
    int turns = decoder->format == CCODECS_JPEG || decoder->format == CCODECS_PNG || decoder->format == CCODECS_WEBP;
    if (orientation != 1 && !turns) {
        ccodecs_note(&decoder->jump, "only JPEG, PNG and WebP images are turned by an EXIF orientation");
        status = CCODECS_ERROR_UNSUPPORTED;
    } else if (orientation < 1 || orientation > 8) {
        ccodecs_note(&decoder->jump, "EXIF orientation %d is not 1...8", orientation);
        status = CCODECS_ERROR_UNSUPPORTED;
    } else if (decoder->format == CCODECS_JPEG) {
        status = ccodecs_jpeg_read(decoder, samples, orientation);
    } else if (orientation != 1) {
        status = read_oriented(decoder, samples, orientation);
    } else {
        status = read_stored(decoder, samples);
    }
    if (status != CCODECS_OK) ccodecs_copy_message(&decoder->jump, "cannot decode the pixels", message, capacity);
    return status;
}

/*
 * Stores row `y` of stored samples (`row`, `channels` floats a pixel) as EXIF `orientation`
 * asks: the source pixel (x, y) lands where Pillow's ImageOps.exif_transpose puts it.
 */
void ccodecs_store_oriented_row(const ccodecs_info *info, float *samples, int32_t orientation, ptrdiff_t y,
                                const float *row) {
    ptrdiff_t w = info->width, h = info->height, channels = info->channels;
    ptrdiff_t out_width = orientation >= 5 ? h : w;
    ptrdiff_t x0, y0, dx = 0, dy = 0; /* where source x = 0 lands, and the step per source pixel */
    switch (orientation) {
    case 2: x0 = w - 1, y0 = y, dx = -1; break;         /* mirror left-right */
    case 3: x0 = w - 1, y0 = h - 1 - y, dx = -1; break; /* rotate 180 */
    case 4: x0 = 0, y0 = h - 1 - y, dx = 1; break;      /* mirror top-bottom */
    case 5: x0 = y, y0 = 0, dy = 1; break;              /* transpose */
    case 6: x0 = h - 1 - y, y0 = 0, dy = 1; break;      /* rotate 90 clockwise */
    case 7: x0 = h - 1 - y, y0 = w - 1, dy = -1; break; /* transverse */
    case 8: x0 = y, y0 = w - 1, dy = -1; break;         /* rotate 90 counter-clockwise */
    default: x0 = 0, y0 = y, dx = 1;
    }
    float *out = samples + (y0 * out_width + x0) * channels;
    ptrdiff_t step = (dy * out_width + dx) * channels;
    for (ptrdiff_t x = 0; x < w; x++, out += step)
        for (ptrdiff_t c = 0; c < channels; c++) out[c] = row[x * channels + c];
}

const uint8_t *ccodecs_decoder_exif(const ccodecs_decoder *decoder, size_t *length) {
    *length = decoder->metadata.exif_length;
    return decoder->metadata.exif;
}

const uint8_t *ccodecs_decoder_icc(const ccodecs_decoder *decoder, size_t *length) {
    *length = decoder->metadata.icc_length;
    return decoder->metadata.icc;
}

const uint8_t *ccodecs_decoder_xmp(const ccodecs_decoder *decoder, size_t *length) {
    *length = decoder->metadata.xmp_length;
    return decoder->metadata.xmp;
}

void ccodecs_decoder_close(ccodecs_decoder *decoder) {
    if (decoder == NULL) return;
    switch (decoder->format) {
    case CCODECS_PNG: ccodecs_png_close(decoder); break;
    case CCODECS_JPEG: ccodecs_jpeg_close(decoder); break;
    case CCODECS_TIFF: ccodecs_tiff_close(decoder); break;
    case CCODECS_WEBP: break;
    case CCODECS_HEIF: ccodecs_heif_close(decoder); break;
    case CCODECS_BMP: break;
    }
    if (decoder->file != NULL) fclose(decoder->file);
    if (decoder->fd >= 0) close(decoder->fd);
    free(decoder->scratch);
    free(decoder);
}
