#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ccodecs_internal.h"

static int tiff_note_error(TIFF *tiff, void *user_data, const char *module, const char *format,
                           va_list arguments) {
    (void)tiff;
    (void)module;
    ccodecs_jump *jump = user_data;
    if (!jump->has_message) {
        vsnprintf(jump->message, sizeof jump->message, format, arguments);
        jump->has_message = 1;
    }
    return 1; /* handled: keep libtiff from printing to stderr */
}

static int tiff_ignore_warning(TIFF *tiff, void *user_data, const char *module, const char *format,
                               va_list arguments) {
    (void)tiff;
    (void)user_data;
    (void)module;
    (void)format;
    (void)arguments;
    return 1;
}

/* Options sending libtiff's errors to `jump` and dropping its warnings. */
static TIFFOpenOptions *tiff_options(ccodecs_jump *jump) {
    TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
    if (options == NULL) return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(options, tiff_note_error, jump);
    TIFFOpenOptionsSetWarningHandlerExtR(options, tiff_ignore_warning, NULL);
    return options;
}

static TIFF *tiff_create(const char *path, ccodecs_jump *jump) {
    TIFFOpenOptions *options = tiff_options(jump);
    if (options == NULL) return NULL;
    TIFF *tiff = TIFFOpenExt(path, "w", options);
    TIFFOpenOptionsFree(options);
    return tiff;
}

/*
 * Opens `fd` from its start, holding each of libtiff's allocations to `max_allocation`
 * bytes; libtiff closes `fd` when the TIFF is closed, and leaves it open on failure.
 */
static TIFF *tiff_open_descriptor(int fd, const char *name, size_t max_allocation, ccodecs_jump *jump) {
    TIFFOpenOptions *options = tiff_options(jump);
    if (options == NULL) return NULL;
    TIFFOpenOptionsSetMaxSingleMemAlloc(options, (tmsize_t)max_allocation);
    /* "m": read, not memory-map, so a file shrinking underneath cannot raise SIGBUS. */
    TIFF *tiff = lseek(fd, 0, SEEK_SET) == 0 ? TIFFFdOpenExt(fd, name, "rm", options) : NULL;
    TIFFOpenOptionsFree(options);
    return tiff;
}

static int is_gray(uint16_t photometric) {
    return photometric == PHOTOMETRIC_MINISBLACK || photometric == PHOTOMETRIC_MINISWHITE;
}

/* Reads the first directory's size and layout into the decoder. */
static ccodecs_status read_layout(ccodecs_decoder *decoder, TIFF *tiff) {
    uint32_t width = 0, height = 0;
    uint16_t bits = 1, samples = 1, planar = PLANARCONFIG_CONTIG, format = SAMPLEFORMAT_UINT;
    uint16_t extra_count = 0, photometric;
    uint16_t *extra_types = NULL;
    if (!TIFFGetField(tiff, TIFFTAG_IMAGEWIDTH, &width) || !TIFFGetField(tiff, TIFFTAG_IMAGELENGTH, &height)) {
        ccodecs_note(&decoder->jump, "TIFF without image dimensions");
        return CCODECS_ERROR_CORRUPT;
    }
    if (width > 0x7fffffff || height > 0x7fffffff) {
        ccodecs_note(&decoder->jump, "TIFF dimensions %ux%u are out of range", width, height);
        return CCODECS_ERROR_UNSUPPORTED;
    }
    ccodecs_status status = ccodecs_check_size(decoder, width, height);
    if (status != CCODECS_OK) return status;
    TIFFGetFieldDefaulted(tiff, TIFFTAG_BITSPERSAMPLE, &bits);
    TIFFGetFieldDefaulted(tiff, TIFFTAG_SAMPLESPERPIXEL, &samples);
    TIFFGetFieldDefaulted(tiff, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(tiff, TIFFTAG_SAMPLEFORMAT, &format);
    TIFFGetFieldDefaulted(tiff, TIFFTAG_EXTRASAMPLES, &extra_count, &extra_types);
    if (!TIFFGetField(tiff, TIFFTAG_PHOTOMETRIC, &photometric))
        photometric = samples >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;

    int gray_layout = is_gray(photometric) && samples >= 1 && samples <= 2;
    int rgb_layout = photometric == PHOTOMETRIC_RGB && samples >= 3 && samples <= 4;
    decoder->tiff_direct = !TIFFIsTiled(tiff) && format == SAMPLEFORMAT_UINT && (bits == 8 || bits == 16) &&
                           (gray_layout || rgb_layout);
    decoder->tiff_photometric = photometric;
    decoder->tiff_planar = planar;
    decoder->tiff_samples = samples;
    if (decoder->tiff_direct) {
        decoder->info.channels = samples;
        decoder->info.bit_depth = bits;
        return CCODECS_OK;
    }
    /* Everything else libtiff can express as 8-bit RGBA (palette, bilevel, YCbCr, CMYK...). */
    char reason[1024];
    if (!TIFFRGBAImageOK(tiff, reason)) {
        ccodecs_note(&decoder->jump, "TIFF layout not supported: %s", reason);
        return CCODECS_ERROR_UNSUPPORTED;
    }
    decoder->info.channels = (is_gray(photometric) ? 1 : 3) + (extra_count > 0 ? 1 : 0);
    decoder->info.bit_depth = 8;
    return CCODECS_OK;
}

/*
 * libtiff read the tag with the directory, under the decoder's allocation limit, and owns
 * it. EXIF is not taken: a TIFF keeps it in a sub-directory of tags interleaved with the
 * image's own (offsets into the file), not as one block to carry over.
 */
static void find_icc(ccodecs_decoder *decoder) {
    uint32_t length = 0;
    void *profile = NULL;
    if (TIFFGetField(decoder->tiff, TIFFTAG_ICCPROFILE, &length, &profile)) ccodecs_keep_icc(decoder, profile, length);
}

/* The XMLPacket tag (700), read as the profile is. */
static void find_xmp(ccodecs_decoder *decoder) {
    uint32_t length = 0;
    void *packet = NULL;
    if (TIFFGetField(decoder->tiff, TIFFTAG_XMLPACKET, &length, &packet)) ccodecs_keep_xmp(decoder, packet, length);
}

/*
 * libtiff's limit on one allocation is fixed when a file is opened, so the directory is
 * read twice: first under the header's allowance, to learn the size, then under the
 * image's budget for decoding. Reading a directory is cheap.
 */
ccodecs_status ccodecs_tiff_open(ccodecs_decoder *decoder, const char *name) {
    int probe = dup(decoder->fd);
    if (probe < 0) {
        ccodecs_note(&decoder->jump, "%s", strerror(errno));
        return CCODECS_ERROR_IO;
    }
    TIFF *header = tiff_open_descriptor(probe, name, decoder->memory_limit, &decoder->jump);
    if (header == NULL) {
        close(probe);
        return CCODECS_ERROR_CORRUPT;
    }
    ccodecs_status status = read_layout(decoder, header);
    TIFFClose(header);
    if (status != CCODECS_OK) return status;

    ccodecs_set_budget(decoder);
    decoder->tiff = tiff_open_descriptor(decoder->fd, name, decoder->memory_limit, &decoder->jump);
    if (decoder->tiff == NULL) return CCODECS_ERROR_CORRUPT;
    decoder->fd = -1;
    find_icc(decoder);
    find_xmp(decoder);
    return CCODECS_OK;
}

/* The photometric "white is zero" stores gray inverted: flip the first sample of each pixel. */
static void invert_gray(void *raw, size_t pixels, size_t stride, int32_t bit_depth) {
    for (size_t i = 0; i < pixels; i++) {
        if (bit_depth == 8) ((uint8_t *)raw)[i * stride] ^= 0xFF;
        else ((uint16_t *)raw)[i * stride] ^= 0xFFFF;
    }
}

static ccodecs_status read_scanlines(ccodecs_decoder *decoder, float *samples) {
    TIFF *tiff = decoder->tiff;
    int32_t bit_depth = decoder->info.bit_depth;
    size_t sample_bytes = (size_t)bit_depth / 8;
    size_t channels = decoder->tiff_samples;
    size_t width = (size_t)decoder->info.width;
    int separate = decoder->tiff_planar == PLANARCONFIG_SEPARATE;
    int white_is_zero = decoder->tiff_photometric == PHOTOMETRIC_MINISWHITE;
    size_t needed = width * sample_bytes * (separate ? 1 : channels);
    size_t row_samples = width * channels;
    tmsize_t scanline = TIFFScanlineSize(tiff);
    /* A contiguous scanline is decoded in place: into the memory its floats will fill. */
    if (scanline <= 0 || (size_t)scanline < needed || (!separate && (size_t)scanline > row_samples * sizeof(float))) {
        ccodecs_note(&decoder->jump, "unexpected TIFF scanline size");
        return CCODECS_ERROR_CORRUPT;
    }
    if (!separate) {
        for (int32_t y = 0; y < decoder->info.height; y++) {
            float *row = samples + (size_t)y * row_samples;
            if (TIFFReadScanline(tiff, row, (uint32_t)y, 0) < 0) return CCODECS_ERROR_CORRUPT;
            if (white_is_zero) invert_gray(row, width, channels, bit_depth);
            ccodecs_widen(row, row, row_samples, bit_depth);
        }
        return CCODECS_OK;
    }
    decoder->scratch = malloc((size_t)scanline);
    if (decoder->scratch == NULL) {
        ccodecs_note(&decoder->jump, "out of memory");
        return CCODECS_ERROR_IO;
    }
    uint8_t *line = decoder->scratch;
    for (uint16_t plane = 0; plane < channels; plane++) {
        for (int32_t y = 0; y < decoder->info.height; y++) {
            if (TIFFReadScanline(tiff, line, (uint32_t)y, plane) < 0) return CCODECS_ERROR_CORRUPT;
            if (white_is_zero && plane == 0) invert_gray(line, width, 1, bit_depth);
            float *row = samples + (size_t)y * row_samples;
            for (size_t x = 0; x < width; x++) ccodecs_widen(row + x * channels + plane, line + x * sample_bytes, 1, bit_depth);
        }
    }
    return CCODECS_OK;
}

/*
 * libtiff renders the image as one 32-bit RGBA word per pixel into the start of the float
 * buffer (a word per pixel fits: each pixel has at least one float), and the words are
 * spread to floats from the last pixel, so no word is overwritten before it is read.
 */
static ccodecs_status read_rgba(ccodecs_decoder *decoder, float *samples) {
    size_t count = (size_t)decoder->info.width * (size_t)decoder->info.height;
    uint32_t *raster = (uint32_t *)(void *)samples;
    if (!TIFFReadRGBAImageOriented(decoder->tiff, (uint32_t)decoder->info.width, (uint32_t)decoder->info.height,
                                   raster, ORIENTATION_TOPLEFT, 0))
        return CCODECS_ERROR_CORRUPT;
    size_t channels = (size_t)decoder->info.channels;
    int gray = channels <= 2;
    for (size_t i = count; i-- > 0;) {
        uint32_t pixel;
        memcpy(&pixel, (const char *)samples + i * sizeof pixel, sizeof pixel);
        float *sample = samples + i * channels;
        sample[0] = (float)TIFFGetR(pixel) / 255.0f;
        if (!gray) {
            sample[1] = (float)TIFFGetG(pixel) / 255.0f;
            sample[2] = (float)TIFFGetB(pixel) / 255.0f;
        }
        if (channels == 2 || channels == 4) sample[channels - 1] = (float)TIFFGetA(pixel) / 255.0f;
    }
    return CCODECS_OK;
}

ccodecs_status ccodecs_tiff_read(ccodecs_decoder *decoder, float *samples) {
    return decoder->tiff_direct ? read_scanlines(decoder, samples) : read_rgba(decoder, samples);
}

void ccodecs_tiff_close(ccodecs_decoder *decoder) {
    if (decoder->tiff != NULL) TIFFClose(decoder->tiff);
    decoder->tiff = NULL;
}

ccodecs_status ccodecs_tiff_write(const char *path, const void *pixels, int32_t width,
                                  int32_t height, int32_t channels, int32_t bit_depth,
                                  const ccodecs_metadata *metadata, char *message, size_t capacity) {
    if (width <= 0 || height <= 0 || channels < 1 || channels > 4 || (bit_depth != 8 && bit_depth != 16)) {
        snprintf(message, capacity, "invalid image layout");
        return CCODECS_ERROR_WRITE;
    }
    size_t icc_length = metadata != NULL ? metadata->icc_length : 0;
    size_t xmp_length = metadata != NULL ? metadata->xmp_length : 0;
    if (icc_length > UINT32_MAX || xmp_length > UINT32_MAX) {
        snprintf(message, capacity, "an ICC profile of %zu bytes or XMP of %zu does not fit in a TIFF tag",
                 icc_length, xmp_length);
        return CCODECS_ERROR_WRITE;
    }
    ccodecs_jump jump;
    memset(&jump, 0, sizeof jump);
    errno = 0;
    TIFF *tiff = tiff_create(path, &jump);
    if (tiff == NULL) {
        ccodecs_copy_message(&jump, errno != 0 ? strerror(errno) : "cannot create the file", message, capacity);
        return CCODECS_ERROR_IO;
    }
    size_t row_bytes = (size_t)width * (size_t)channels * (size_t)(bit_depth / 8);
    uint8_t *row = malloc(row_bytes);
    uint16_t alpha = EXTRASAMPLE_UNASSALPHA;
    int ok = row != NULL;
    ok = ok && TIFFSetField(tiff, TIFFTAG_IMAGEWIDTH, (uint32_t)width);
    ok = ok && TIFFSetField(tiff, TIFFTAG_IMAGELENGTH, (uint32_t)height);
    ok = ok && TIFFSetField(tiff, TIFFTAG_BITSPERSAMPLE, (uint16_t)bit_depth);
    ok = ok && TIFFSetField(tiff, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)channels);
    ok = ok && TIFFSetField(tiff, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_UINT);
    ok = ok && TIFFSetField(tiff, TIFFTAG_PHOTOMETRIC, channels >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
    ok = ok && TIFFSetField(tiff, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    ok = ok && TIFFSetField(tiff, TIFFTAG_ORIENTATION, ORIENTATION_TOPLEFT);
    ok = ok && TIFFSetField(tiff, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
    ok = ok && TIFFSetField(tiff, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL);
    ok = ok && TIFFSetField(tiff, TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize(tiff, 0));
    if (ok && (channels == 2 || channels == 4)) ok = TIFFSetField(tiff, TIFFTAG_EXTRASAMPLES, 1, &alpha);
    if (ok && icc_length > 0) ok = TIFFSetField(tiff, TIFFTAG_ICCPROFILE, (uint32_t)icc_length, metadata->icc);
    /* XMLPacket (700), type BYTE, as XMP part 3 puts a TIFF's packet. */
    if (ok && xmp_length > 0) ok = TIFFSetField(tiff, TIFFTAG_XMLPACKET, (uint32_t)xmp_length, metadata->xmp);
    for (int32_t y = 0; ok && y < height; y++) {
        /* Horizontal differencing rewrites the row in place, so hand libtiff a copy. */
        memcpy(row, (const uint8_t *)pixels + (size_t)y * row_bytes, row_bytes);
        ok = TIFFWriteScanline(tiff, row, (uint32_t)y, 0) >= 0;
    }
    ok = ok && TIFFFlush(tiff);
    TIFFClose(tiff);
    free(row);
    if (!ok) {
        ccodecs_copy_message(&jump, row == NULL ? "out of memory" : "cannot write the TIFF", message, capacity);
        return CCODECS_ERROR_WRITE;
    }
    return CCODECS_OK;
}
