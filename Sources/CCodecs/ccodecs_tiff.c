#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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

static TIFF *tiff_open(const char *path, const char *mode, ccodecs_jump *jump) {
    TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
    if (options == NULL) return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(options, tiff_note_error, jump);
    TIFFOpenOptionsSetWarningHandlerExtR(options, tiff_ignore_warning, NULL);
    TIFF *tiff = TIFFOpenExt(path, mode, options);
    TIFFOpenOptionsFree(options);
    return tiff;
}

static int is_gray(uint16_t photometric) {
    return photometric == PHOTOMETRIC_MINISBLACK || photometric == PHOTOMETRIC_MINISWHITE;
}

ccodecs_status ccodecs_tiff_open(ccodecs_decoder *decoder, const char *path) {
    /* "m": read, not memory-map, so a file shrinking underneath cannot raise SIGBUS. */
    decoder->tiff = tiff_open(path, "rm", &decoder->jump);
    TIFF *tiff = decoder->tiff;
    if (tiff == NULL) return CCODECS_ERROR_CORRUPT;

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
    decoder->info.width = (int32_t)width;
    decoder->info.height = (int32_t)height;
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

static void invert_gray(ccodecs_decoder *decoder, void *pixels) {
    size_t count = (size_t)decoder->info.width * (size_t)decoder->info.height;
    size_t stride = (size_t)decoder->info.channels;
    for (size_t i = 0; i < count; i++) {
        if (decoder->info.bit_depth == 8) ((uint8_t *)pixels)[i * stride] ^= 0xFF;
        else ((uint16_t *)pixels)[i * stride] ^= 0xFFFF;
    }
}

static ccodecs_status read_scanlines(ccodecs_decoder *decoder, void *pixels) {
    TIFF *tiff = decoder->tiff;
    size_t sample_bytes = (size_t)decoder->info.bit_depth / 8;
    size_t samples = decoder->tiff_samples;
    size_t width = (size_t)decoder->info.width;
    int separate = decoder->tiff_planar == PLANARCONFIG_SEPARATE;
    size_t needed = width * sample_bytes * (separate ? 1 : samples);
    tmsize_t scanline = TIFFScanlineSize(tiff);
    if (scanline <= 0 || (size_t)scanline < needed) {
        ccodecs_note(&decoder->jump, "unexpected TIFF scanline size");
        return CCODECS_ERROR_CORRUPT;
    }
    decoder->scratch = malloc((size_t)scanline);
    if (decoder->scratch == NULL) {
        ccodecs_note(&decoder->jump, "out of memory");
        return CCODECS_ERROR_IO;
    }
    uint8_t *line = decoder->scratch;
    uint8_t *out = pixels;
    size_t row_bytes = width * samples * sample_bytes;
    for (uint16_t plane = 0; plane < (separate ? samples : 1); plane++) {
        for (int32_t y = 0; y < decoder->info.height; y++) {
            if (TIFFReadScanline(tiff, line, (uint32_t)y, plane) < 0) return CCODECS_ERROR_CORRUPT;
            uint8_t *row = out + (size_t)y * row_bytes;
            if (!separate) {
                memcpy(row, line, row_bytes);
                continue;
            }
            for (size_t x = 0; x < width; x++)
                memcpy(row + (x * samples + plane) * sample_bytes, line + x * sample_bytes, sample_bytes);
        }
    }
    if (decoder->tiff_photometric == PHOTOMETRIC_MINISWHITE) invert_gray(decoder, pixels);
    return CCODECS_OK;
}

static ccodecs_status read_rgba(ccodecs_decoder *decoder, void *pixels) {
    size_t count = (size_t)decoder->info.width * (size_t)decoder->info.height;
    decoder->scratch = malloc(count * sizeof(uint32_t));
    if (decoder->scratch == NULL) {
        ccodecs_note(&decoder->jump, "out of memory");
        return CCODECS_ERROR_IO;
    }
    uint32_t *raster = decoder->scratch;
    if (!TIFFReadRGBAImageOriented(decoder->tiff, (uint32_t)decoder->info.width, (uint32_t)decoder->info.height,
                                   raster, ORIENTATION_TOPLEFT, 0))
        return CCODECS_ERROR_CORRUPT;
    uint8_t *out = pixels;
    int channels = decoder->info.channels;
    int gray = channels <= 2;
    for (size_t i = 0; i < count; i++) {
        uint32_t pixel = raster[i];
        uint8_t *sample = out + i * (size_t)channels;
        sample[0] = (uint8_t)TIFFGetR(pixel);
        if (!gray) {
            sample[1] = (uint8_t)TIFFGetG(pixel);
            sample[2] = (uint8_t)TIFFGetB(pixel);
        }
        if (channels == 2 || channels == 4) sample[channels - 1] = (uint8_t)TIFFGetA(pixel);
    }
    return CCODECS_OK;
}

ccodecs_status ccodecs_tiff_read(ccodecs_decoder *decoder, void *pixels) {
    return decoder->tiff_direct ? read_scanlines(decoder, pixels) : read_rgba(decoder, pixels);
}

void ccodecs_tiff_close(ccodecs_decoder *decoder) {
    if (decoder->tiff != NULL) TIFFClose(decoder->tiff);
    decoder->tiff = NULL;
}

ccodecs_status ccodecs_tiff_write(const char *path, const void *pixels, int32_t width,
                                  int32_t height, int32_t channels, int32_t bit_depth,
                                  char *message, size_t capacity) {
    if (width <= 0 || height <= 0 || channels < 1 || channels > 4 || (bit_depth != 8 && bit_depth != 16)) {
        snprintf(message, capacity, "invalid image layout");
        return CCODECS_ERROR_WRITE;
    }
    ccodecs_jump jump;
    memset(&jump, 0, sizeof jump);
    errno = 0;
    TIFF *tiff = tiff_open(path, "w", &jump);
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
