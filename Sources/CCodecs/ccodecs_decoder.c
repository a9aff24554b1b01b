#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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

ccodecs_status ccodecs_decoder_open(ccodecs_format format, const char *path,
                                    ccodecs_decoder **decoder, ccodecs_info *info,
                                    char *message, size_t capacity) {
    *decoder = NULL;
    ccodecs_decoder *opened = calloc(1, sizeof *opened);
    if (opened == NULL) {
        snprintf(message, capacity, "out of memory");
        return CCODECS_ERROR_IO;
    }
    opened->format = format;
    ccodecs_status status;
    switch (format) {
    case CCODECS_PNG: status = ccodecs_png_open(opened, path); break;
    case CCODECS_JPEG: status = ccodecs_jpeg_open(opened, path); break;
    case CCODECS_TIFF: status = ccodecs_tiff_open(opened, path); break;
    default: ccodecs_note(&opened->jump, "unknown format"); status = CCODECS_ERROR_UNSUPPORTED;
    }
    if (status != CCODECS_OK) {
        ccodecs_copy_message(&opened->jump, "cannot decode the header", message, capacity);
        ccodecs_decoder_close(opened);
        return status;
    }
    *info = opened->info;
    *decoder = opened;
    return CCODECS_OK;
}

ccodecs_status ccodecs_decoder_read(ccodecs_decoder *decoder, void *pixels, char *message,
                                    size_t capacity) {
    ccodecs_status status;
    switch (decoder->format) {
    case CCODECS_PNG: status = ccodecs_png_read(decoder, pixels); break;
    case CCODECS_JPEG: status = ccodecs_jpeg_read(decoder, pixels); break;
    case CCODECS_TIFF: status = ccodecs_tiff_read(decoder, pixels); break;
    default: status = CCODECS_ERROR_UNSUPPORTED;
    }
    if (status != CCODECS_OK) ccodecs_copy_message(&decoder->jump, "cannot decode the pixels", message, capacity);
    return status;
}

const uint8_t *ccodecs_decoder_exif(const ccodecs_decoder *decoder, size_t *length) {
    *length = decoder->exif_length;
    return decoder->exif;
}

void ccodecs_decoder_close(ccodecs_decoder *decoder) {
    if (decoder == NULL) return;
    switch (decoder->format) {
    case CCODECS_PNG: ccodecs_png_close(decoder); break;
    case CCODECS_JPEG: ccodecs_jpeg_close(decoder); break;
    case CCODECS_TIFF: ccodecs_tiff_close(decoder); break;
    }
    if (decoder->file != NULL) fclose(decoder->file);
    free(decoder->scratch);
    free(decoder);
}
